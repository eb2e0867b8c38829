-- Runs gateway/lua/rest_shape.lua under luajit against the shared fixture
-- file (gateway/test/fixtures/rest-shape-cases.json), twice per case: the
-- pure rule, and the Envoy entry points through the handle stand-in.
-- Usage: luajit gateway/test/lua/run_fixtures.lua <repository root>
-- Prints one "ok"/"not ok" line per check; exits 1 if any failed.

local root = arg[1] or "."
package.path = root .. "/gateway/test/lua/?.lua;" .. package.path

local stand_in = require("envoy_stand_in")
local rest_shape = dofile(root .. "/gateway/lua/rest_shape.lua")
local json = rest_shape.json

local passed, failed = 0, 0

local function check(name, condition, detail)
  if condition then
    passed = passed + 1
    print("ok - " .. name)
  else
    failed = failed + 1
    print("not ok - " .. name .. (detail and (": " .. detail) or ""))
  end
end

local function same(name, actual, expected)
  check(name, actual == expected, "expected " .. tostring(expected) .. ", got " .. tostring(actual))
end

local function read_fixtures()
  local file = assert(io.open(root .. "/gateway/test/fixtures/rest-shape-cases.json", "rb"))
  local text = file:read("*a")
  file:close()
  local node, problem = json.scan(text)
  assert(node, problem)
  return json.to_value(node)
end

local function nil_if_null(value)
  if value == json.null then return nil end
  return value
end

local fixtures = read_fixtures()

for _, case in ipairs(fixtures.responses) do
  local upstream, expected = case.upstream, case.expected
  local content_type = nil_if_null(upstream.contentType)

  -- 1. The pure rule.
  local shaped = rest_shape.shape_response(case.request, {
    status = upstream.status, content_type = content_type, body = upstream.body,
  })
  same(case.name .. " [rule] status", shaped.status, expected.status)
  same(case.name .. " [rule] content-type", shaped.content_type, nil_if_null(expected.contentType))
  same(case.name .. " [rule] body", shaped.body, expected.body)

  -- 2. Through envoy_on_request / envoy_on_response, as Envoy would call them.
  local stream = stand_in.stream()
  local request = stream.request_handle({
    [":method"] = case.request.method, [":path"] = case.request.path, ["content-type"] = "application/json",
  })
  stand_in.run(envoy_on_request, request)
  check(case.name .. " [envoy] request passes", rawget(request, "responded") == nil)
  local headers = { [":status"] = tostring(upstream.status), ["grpc-status"] = "0", ["grpc-message"] = "" }
  if content_type then headers["content-type"] = content_type end
  if upstream.body ~= "" then headers["content-length"] = tostring(#upstream.body) end
  local body = upstream.body ~= "" and upstream.body or nil
  local response = stream.response_handle(headers, body)
  stand_in.run(envoy_on_response, response)
  local out = response.header_map.values
  same(case.name .. " [envoy] :status", out[":status"], tostring(expected.status))
  same(case.name .. " [envoy] content-type", out["content-type"], nil_if_null(expected.contentType))
  same(case.name .. " [envoy] body", response:final_body(), expected.body)
  same(case.name .. " [envoy] content-length", out["content-length"], tostring(#expected.body))
  check(case.name .. " [envoy] gRPC headers removed", out["grpc-status"] == nil and out["grpc-message"] == nil)
end

-- "Bearer xxx..." of the given length, as the fixtures' authorizationLength means.
local function authorization_of(length)
  if length == nil or length == json.null then return nil end
  return "Bearer " .. string.rep("x", length - 7)
end

for _, case in ipairs(fixtures.requests) do
  local expected = nil_if_null(case.expected)
  local authorization = authorization_of(case.request.authorizationLength)
  local refusal = rest_shape.check_request({ content_length = nil_if_null(case.request.contentLength), authorization = authorization })
  if expected then
    same(case.name .. " [rule] status", refusal and refusal.status, expected.status)
    same(case.name .. " [rule] body", refusal and refusal.body, expected.body)
    for name, value in pairs(expected.headers or {}) do
      same(case.name .. " [rule] " .. name, refusal and refusal.headers and refusal.headers[name], value)
    end
  else
    check(case.name .. " [rule] passes", refusal == nil)
  end

  local stream = stand_in.stream()
  local headers = { [":method"] = case.request.method, [":path"] = case.request.path }
  headers["content-length"] = nil_if_null(case.request.contentLength)
  headers["authorization"] = authorization
  local request = stream.request_handle(headers)
  stand_in.run(envoy_on_request, request)
  local recorded = stream.metadata:get(rest_shape.METADATA_NAMESPACE)
  same(case.name .. " [envoy] credentials recorded, not their value", recorded.had_credentials, authorization ~= nil)
  if expected then
    local responded = rawget(request, "responded")
    check(case.name .. " [envoy] responded", responded ~= nil)
    same(case.name .. " [envoy] :status", responded and responded.headers[":status"], tostring(expected.status))
    same(case.name .. " [envoy] content-type", responded and responded.headers["content-type"], expected.contentType)
    same(case.name .. " [envoy] body", responded and responded.body, expected.body)
    for name, value in pairs(expected.headers or {}) do
      same(case.name .. " [envoy] " .. name, responded and responded.headers[name], value)
    end
    same(case.name .. " [envoy] marked as this script's reply", recorded[rest_shape.LOCAL_REPLY_KEY], true)
  else
    check(case.name .. " [envoy] passes", rawget(request, "responded") == nil)
    check(case.name .. " [envoy] not marked as a reply", recorded[rest_shape.LOCAL_REPLY_KEY] == nil)
  end
end

-- The gRPC code a Status body of these HTTP statuses carries, for the cases below.
local CODE_OF_STATUS = { [401] = 16, [404] = 5, [429] = 8, [503] = 14 }

for _, case in ipairs(fixtures.errorHeaders) do
  local retry_after = nil_if_null(case.retryAfter)
  local rule = rest_shape.error_headers(case.status, case.hadCredentials, retry_after)
  for _, name in ipairs({ "www-authenticate", "retry-after" }) do
    same(case.name .. " [rule] " .. name, rule[name], case.expected[name])
  end

  -- Through the Envoy entry points: the transcoded error, its metadata in the
  -- headers or the trailers, as task-api sent it.
  local stream = stand_in.stream()
  local request_headers = { [":method"] = "GET", [":path"] = "/task/0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f" }
  if case.hadCredentials then request_headers["authorization"] = "Bearer a.b.c" end
  stand_in.run(envoy_on_request, stream.request_handle(request_headers))
  local body = string.format('{"code":%d,"message":"refused","details":[]}', CODE_OF_STATUS[case.status])
  local headers = { [":status"] = tostring(case.status), ["content-type"] = "application/json", ["content-length"] = tostring(#body) }
  local trailers = { ["grpc-status"] = tostring(CODE_OF_STATUS[case.status]) }
  if case.retryAfterIn == "header" then headers["retry-after"] = retry_after end
  if case.retryAfterIn == "trailer" then trailers["retry-after"] = retry_after end
  local response = stream.response_handle(headers, body, trailers)
  stand_in.run(envoy_on_response, response)
  for _, name in ipairs({ "www-authenticate", "retry-after" }) do
    same(case.name .. " [envoy] " .. name, response.header_map.values[name], case.expected[name])
  end
  same(case.name .. " [envoy] body untouched", response:final_body(), body)
end

for _, case in ipairs(fixtures.idempotencyKeys) do
  local request, expected = case.request, case.expected
  local key = nil_if_null(request.idempotencyKey)
  local keyed = rest_shape.apply_idempotency_key({
    method = request.method, path = request.path, idempotency_key = key, body = request.body,
  })
  if expected.refusal then
    same(case.name .. " [key rule] status", keyed.refusal and keyed.refusal.status, expected.refusal.status)
    same(case.name .. " [key rule] body", keyed.refusal and keyed.refusal.body, expected.refusal.body)
  else
    same(case.name .. " [key rule] body", keyed.body, expected.body)
  end

  local stream = stand_in.stream()
  local headers = { [":method"] = request.method, [":path"] = request.path, ["content-type"] = "application/json" }
  if request.body ~= "" then headers["content-length"] = tostring(#request.body) end
  headers["idempotency-key"] = key
  local handle = stream.request_handle(headers, request.body ~= "" and request.body or nil)
  stand_in.run(envoy_on_request, handle)
  local responded = rawget(handle, "responded")
  if expected.refusal then
    same(case.name .. " [envoy key] :status", responded and responded.headers[":status"], tostring(expected.refusal.status))
    same(case.name .. " [envoy key] body", responded and responded.body, expected.refusal.body)
  else
    check(case.name .. " [envoy key] passes", responded == nil)
    same(case.name .. " [envoy key] body", handle:final_body() or "", expected.body)
    same(case.name .. " [envoy key] content-length", handle.header_map.values["content-length"] or "0", tostring(#expected.body))
  end
end

do
  -- The Lua rule's field table is the one the TypeScript rule (and proto/, in rest-shape.test.ts) has.
  for route, expected in pairs(fixtures.bodyFieldTable) do
    local actual = rest_shape.BODY_FIELDS[route]
    check("body fields table has " .. route, actual ~= nil)
    if actual then
      local names = {}
      for name in pairs(actual.fields) do names[#names + 1] = name end
      same("body fields of " .. route, #names, #expected.fields)
      for _, name in ipairs(expected.fields) do check("body field " .. route .. " " .. name, actual.fields[name] == true) end
      for list, item_fields in pairs(expected.lists) do
        for _, name in ipairs(item_fields) do check("item field " .. route .. " " .. list .. "." .. name, actual.lists[list] and actual.lists[list][name] == true) end
      end
    end
  end
end

for _, case in ipairs(fixtures.bodyFields) do
  local request, expected = case.request, nil_if_null(case.expected)
  local refusal = rest_shape.check_body_fields(request)
  if expected then
    same(case.name .. " [fields rule] body", refusal and refusal.body, expected.body)
  else
    check(case.name .. " [fields rule] passes", refusal == nil)
  end
  local stream = stand_in.stream()
  local headers = { [":method"] = request.method, [":path"] = request.path, ["content-type"] = "application/json" }
  headers["content-length"] = tostring(#request.body)
  local handle = stream.request_handle(headers, request.body)
  stand_in.run(envoy_on_request, handle)
  local responded = rawget(handle, "responded")
  if expected then
    same(case.name .. " [envoy fields] :status", responded and responded.headers[":status"], tostring(expected.status))
    same(case.name .. " [envoy fields] body", responded and responded.body, expected.body)
  else
    check(case.name .. " [envoy fields] passes", responded == nil)
    same(case.name .. " [envoy fields] body untouched", handle:final_body(), request.body)
  end
end

for _, case in ipairs(fixtures.sseFrames) do
  same(case.name .. " [rule] sse frame", rest_shape.shape_sse_frame(case.frame), case.expected)
end

for _, case in ipairs(fixtures.sseStreams) do
  -- Through envoy_on_response, chunk by chunk, as a watch streams.
  local stream = stand_in.stream()
  local path = "/task/0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f/watch"
  stand_in.run(envoy_on_request, stream.request_handle({ [":method"] = "GET", [":path"] = path }))
  local response = stream.streaming_response_handle({ [":status"] = "200", ["content-type"] = "text/event-stream" }, case.chunks)
  stand_in.run(envoy_on_response, response)
  same(case.name .. " [envoy] stream", table.concat(response.sent), case.expected)
  same(case.name .. " [envoy] stream content-type", response.header_map.values["content-type"], "text/event-stream")
end

for _, case in ipairs(fixtures.queries) do
  local expected = case.expected
  local rewritten = rest_shape.rewrite_list_query(case.request)
  if expected.path then
    same(case.name .. " [rule] path", rewritten.path, expected.path)
  else
    same(case.name .. " [rule] status", rewritten.status, expected.status)
    same(case.name .. " [rule] body", rewritten.body, expected.body)
  end
  local stream = stand_in.stream()
  local request = stream.request_handle({ [":method"] = case.request.method, [":path"] = case.request.path })
  stand_in.run(envoy_on_request, request)
  local responded = rawget(request, "responded")
  if expected.path then
    check(case.name .. " [envoy] passes", responded == nil)
    same(case.name .. " [envoy] :path", request.header_map.values[":path"], expected.path)
  else
    same(case.name .. " [envoy] :status", responded and responded.headers[":status"], tostring(expected.status))
    same(case.name .. " [envoy] body", responded and responded.body, expected.body)
  end
end

-- Cases about the Envoy glue itself rather than the rule.
do
  local stream = stand_in.stream()
  local request = stream.request_handle({
    [":method"] = "POST", [":path"] = "/taskproc.v1.TaskService/CreateTask",
    ["content-type"] = "application/grpc", ["content-length"] = "9999999",
  })
  stand_in.run(envoy_on_request, request)
  check("gRPC request: no size refusal from the REST rule", rawget(request, "responded") == nil)
  local response = stream.response_handle({ [":status"] = "200", ["content-type"] = "application/grpc", ["grpc-status"] = "0" }, "\0\0\0\0\0")
  stand_in.run(envoy_on_response, response)
  check("gRPC response: body never buffered", rawget(response, "body_read") == false)
  same("gRPC response: grpc-status kept", response.header_map.values["grpc-status"], "0")
  same("gRPC response: status kept", response.header_map.values[":status"], "200")
end

do
  local stream = stand_in.stream()
  local request = stream.request_handle({ [":method"] = "POST", [":path"] = "/task", ["content-type"] = "application/grpc+proto" })
  stand_in.run(envoy_on_request, request)
  local response = stream.response_handle({ [":status"] = "200", ["content-type"] = "application/grpc+proto" }, "x")
  stand_in.run(envoy_on_response, response)
  check("application/grpc+proto counts as gRPC: no 201", response.header_map.values[":status"] == "200" and rawget(response, "body_read") == false)
end

do
  local stream = stand_in.stream()
  local request = stream.request_handle({ [":method"] = "GET", [":path"] = "/task", ["content-type"] = "application/grpc-web" })
  stand_in.run(envoy_on_request, request)
  local response = stream.response_handle({ [":status"] = "404" }, nil)
  stand_in.run(envoy_on_response, response)
  same("grpc-web is not gRPC: headers-only 404 gets a Status body", response:final_body(), rest_shape.local_reply_body(404))
end

do
  local stream = stand_in.stream()
  local request = stream.request_handle({ [":method"] = "HEAD", [":path"] = "/health" })
  stand_in.run(envoy_on_request, request)
  local response = stream.response_handle({ [":status"] = "404", ["grpc-status"] = "5" }, nil)
  stand_in.run(envoy_on_response, response)
  check("HEAD: no body added", rawget(response, "body_read") == false and response:final_body() == nil)
  check("HEAD: gRPC headers removed", response.header_map.values["grpc-status"] == nil)
end

do
  local stream = stand_in.stream()
  local response = stream.response_handle({ [":status"] = "503" }, "no healthy upstream")
  stand_in.run(envoy_on_response, response)
  check("a response without a recorded request (reply before the Lua filter ran) is untouched",
    rawget(response, "body_read") == false and response:final_body() == "no healthy upstream")
end

do
  same("timestamp: no fraction", rest_shape.normalize_timestamp("2024-10-28T08:04:08Z"), "2024-10-28T08:04:08.000000Z")
  same("timestamp: offset is not protobuf output", rest_shape.normalize_timestamp("2024-10-28T08:04:08+01:00"), nil)
  same("timestamp: digits without a dot", rest_shape.normalize_timestamp("2024-10-28T08:04:08123Z"), nil)
  same("status: lower-case short name", rest_shape.short_status("TASK_STATUS_PROCESSING"), "processing")
  same("status: other enums untouched", rest_shape.short_status("OTHER_PENDING"), nil)
  local node, problem = json.scan('{"a":[1,2,{"b":null}],"c":"\\ud83d\\ude00"}')
  check("json: nested values scan", node ~= nil, problem)
  same("json: surrogate pair decodes to UTF-8", json.to_value(node).c, "\240\159\152\128")
  check("json: trailing garbage refused", json.scan('{"a":1} x') == nil)
  check("json: unquoted key refused", json.scan('{a:1}') == nil)
  check("json: raw control character refused", json.scan('"a\nb"') == nil)
end

print(string.format("# passed %d, failed %d", passed, failed))
os.exit(failed == 0 and 0 or 1)
