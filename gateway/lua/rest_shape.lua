-- The REST shape rule, as an Envoy Lua filter (envoy.filters.http.lua).
--
-- Listed before the gRPC-JSON transcoder in envoy.yaml, so it sees a REST
-- request before the transcoder turns it into gRPC, and the transcoded (or
-- locally generated) response after. It only touches REST traffic: gRPC
-- requests (content-type application/grpc or application/grpc+...) pass by.
--
-- What it does, and why the transcoder cannot:
--   * a body over 1 MiB (by its content-length) is refused with 413 before
--     anything is read; the transcoder's own max_request_body_size catches a
--     chunked body;
--   * an Authorization header too long to hold a token of 8 KiB is refused
--     with 401 "token too large" (jwt_authn, after this filter, would only
--     say that the token does not verify); tokens are never verified here;
--   * a 401 carries `WWW-Authenticate: Bearer realm="taskproc"` (with
--     error="invalid_token" when the request had credentials) and a 429 a
--     `Retry-After` copied from task-api's `retry-after` metadata, which
--     gRPC puts in the trailers (an HTTP/1.1 client never sees those);
--   * a successful `POST /task` answers 201 (the transcoder only knows 200);
--   * a response of the form {"task": {...}} becomes the task itself, because
--     Envoy refuses `response_body` on non-HttpBody fields (envoyproxy/envoy#11136);
--   * in {"tasks": [...]} (BatchCreateTasks) each task is reshaped alike;
--   * in a task, status "TASK_STATUS_PENDING" becomes "pending", a missing
--     updated_at becomes null, and the timestamps (schedule_time too) get
--     exactly six fractional digits and "Z"; `error` is kept for a failed
--     task only (and is "" if a failed task came without one);
--   * the Idempotency-Key header of `POST /task` becomes the body's
--     request_id (the transcoder maps no header to a field);
--   * an unknown field in the body of `POST /task` or `POST
--     /tasks:batchCreate` is refused with 400 (the transcoder drops unknown
--     fields silently, envoyproxy/envoy#46623);
--   * every error body is google.rpc.Status JSON, {"code":N,"message":"...",
--     "details":[]}: the transcoder already writes that for gRPC errors
--     (convert_grpc_status), and Envoy's own local replies (404 no route,
--     413, 400 unreadable body, 503 upstream down, ...) get a fixed message
--     per HTTP status, so no parser or connection detail reaches a client.
--
-- The same rule lives in gateway/src/rest-shape.ts for the embedded gateway;
-- both are run against gateway/test/fixtures/rest-shape-cases.json.
--
-- The rewrite never re-encodes a value it does not change: the output is cut
-- from the transcoder's own bytes, so a task's content passes through
-- byte for byte whatever it contains.

local rest_shape = {}

rest_shape.MAX_REQUEST_BODY_BYTES = 1048576
-- A bearer token longer than this is refused (task-api's bound too).
rest_shape.MAX_TOKEN_BYTES = 8192
rest_shape.AUTH_REALM = "taskproc"
rest_shape.METADATA_NAMESPACE = "taskproc.rest_shape"
-- Set in METADATA_NAMESPACE on every reply this script makes itself: the
-- HTTP connection manager's local_reply_config (envoy.yaml) leaves those as
-- they are, and reshapes the other local replies (jwt_authn's, local_ratelimit's).
rest_shape.LOCAL_REPLY_KEY = "local_reply"

-- Routes whose successful answer is "created". Matched on method and path
-- (without the query string), as the REST contract names them.
local CREATED_ROUTES = { ["POST /task"] = true }

-- Fixed google.rpc.Status for responses that carry no Status JSON of their
-- own (Envoy's local replies). Index: HTTP status.
local LOCAL_REPLY_STATUS = {
  [400] = { 3, "malformed request: the body or query string does not fit this route" },
  [401] = { 16, "missing or invalid bearer token" },
  [404] = { 5, "no route for this method and path" },
  [413] = { 8, "request body larger than 1 MiB" },
  [429] = { 8, "too many requests" },
  [500] = { 13, "internal error" },
  [502] = { 14, "upstream unavailable" },
  [503] = { 14, "upstream unavailable" },
  [504] = { 4, "upstream timed out" },
}
local UNKNOWN_LOCAL_REPLY = { 2, "request failed" }

---------------------------------------------------------------------------
-- JSON scanning. Each scanned value records where it starts and ends in the
-- text, so callers can copy untouched values verbatim.
---------------------------------------------------------------------------

local json = {}
json.null = setmetatable({}, { __tostring = function() return "null" end })

local function fail(message, position)
  error({ json_error = message .. " at byte " .. tostring(position) }, 0)
end

local function skip_space(text, i)
  local _, last = string.find(text, "^[ \t\r\n]*", i)
  return last + 1
end

local function utf8_char(code)
  if code < 0x80 then
    return string.char(code)
  elseif code < 0x800 then
    return string.char(0xC0 + math.floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return string.char(0xE0 + math.floor(code / 0x1000), 0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return string.char(
    0xF0 + math.floor(code / 0x40000),
    0x80 + math.floor(code / 0x1000) % 0x40,
    0x80 + math.floor(code / 0x40) % 0x40,
    0x80 + code % 0x40
  )
end

local SIMPLE_ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function scan_string(text, first)
  local parts = {}
  local i = first + 1
  while true do
    local stop = string.find(text, '["\\%c]', i)
    if not stop then fail("unterminated string", first) end
    parts[#parts + 1] = string.sub(text, i, stop - 1)
    local char = string.sub(text, stop, stop)
    if char == '"' then
      return { kind = "string", value = table.concat(parts), first = first, last = stop }, stop + 1
    elseif char == "\\" then
      local escape = string.sub(text, stop + 1, stop + 1)
      if SIMPLE_ESCAPES[escape] then
        parts[#parts + 1] = SIMPLE_ESCAPES[escape]
        i = stop + 2
      elseif escape == "u" then
        local hex = string.match(text, "^%x%x%x%x", stop + 2)
        if not hex then fail("bad \\u escape", stop) end
        local code = tonumber(hex, 16)
        i = stop + 6
        if code >= 0xD800 and code <= 0xDBFF then
          local low = string.match(text, "^\\u(%x%x%x%x)", i)
          local low_code = low and tonumber(low, 16)
          if low_code and low_code >= 0xDC00 and low_code <= 0xDFFF then
            code = 0x10000 + (code - 0xD800) * 0x400 + (low_code - 0xDC00)
            i = i + 6
          end
        end
        parts[#parts + 1] = utf8_char(code)
      else
        fail("bad escape", stop)
      end
    else
      fail("control character in string", stop)
    end
  end
end

local scan_value

-- Deeper texts are not JSON to this scanner (Lua's stack would run out on a
-- body of nested brackets); the same bound as gateway/src/json-scan.ts.
local MAX_DEPTH = 100

local function scan_object(text, first, depth)
  local node = { kind = "object", members = {}, first = first }
  local i = skip_space(text, first + 1)
  if string.sub(text, i, i) == "}" then
    node.last = i
    return node, i + 1
  end
  while true do
    if string.sub(text, i, i) ~= '"' then fail("expected a key", i) end
    local key
    key, i = scan_string(text, i)
    i = skip_space(text, i)
    if string.sub(text, i, i) ~= ":" then fail("expected ':'", i) end
    local value
    value, i = scan_value(text, skip_space(text, i + 1), depth + 1)
    node.members[#node.members + 1] = { key = key.value, key_first = key.first, key_last = key.last, value = value }
    i = skip_space(text, i)
    local char = string.sub(text, i, i)
    if char == "}" then
      node.last = i
      return node, i + 1
    elseif char ~= "," then
      fail("expected ',' or '}'", i)
    end
    i = skip_space(text, i + 1)
  end
end

local function scan_array(text, first, depth)
  local node = { kind = "array", items = {}, first = first }
  local i = skip_space(text, first + 1)
  if string.sub(text, i, i) == "]" then
    node.last = i
    return node, i + 1
  end
  while true do
    local item
    item, i = scan_value(text, i, depth + 1)
    node.items[#node.items + 1] = item
    i = skip_space(text, i)
    local char = string.sub(text, i, i)
    if char == "]" then
      node.last = i
      return node, i + 1
    elseif char ~= "," then
      fail("expected ',' or ']'", i)
    end
    i = skip_space(text, i + 1)
  end
end

local function scan_number(text, first)
  local i = first
  if string.sub(text, i, i) == "-" then i = i + 1 end
  local int_part = string.match(text, "^0", i) or string.match(text, "^[1-9]%d*", i)
  if not int_part then fail("bad number", first) end
  i = i + #int_part
  local fraction = string.match(text, "^%.%d+", i)
  if fraction then i = i + #fraction end
  local exponent = string.match(text, "^[eE][-+]?%d+", i)
  if exponent then i = i + #exponent end
  return { kind = "number", value = tonumber(string.sub(text, first, i - 1)), first = first, last = i - 1 }, i
end

local LITERALS = { ["true"] = true, ["false"] = false, null = json.null }

scan_value = function(text, i, depth)
  depth = depth or 0
  local char = string.sub(text, i, i)
  if (char == "{" or char == "[") and depth >= MAX_DEPTH then fail("nested too deeply", i) end
  if char == "{" then return scan_object(text, i, depth) end
  if char == "[" then return scan_array(text, i, depth) end
  if char == '"' then return scan_string(text, i) end
  if char == "-" or string.match(char, "%d") then return scan_number(text, i) end
  for word, value in pairs(LITERALS) do
    if string.sub(text, i, i + #word - 1) == word then
      return { kind = "literal", value = value, first = i, last = i + #word - 1 }, i + #word
    end
  end
  fail("unexpected character", i)
end

--- Scans a whole JSON text. Returns the root node, or nil and a message.
function json.scan(text)
  local ok, result = pcall(function()
    local node, i = scan_value(text, skip_space(text, 1))
    if skip_space(text, i) <= #text then fail("trailing characters", i) end
    return node
  end)
  if ok then return result end
  if type(result) == "table" and result.json_error then return nil, result.json_error end
  error(result, 0)
end

--- Converts a scanned node to plain Lua values (objects and arrays as tables).
function json.to_value(node)
  if node.kind == "object" then
    local object = {}
    for _, member in ipairs(node.members) do object[member.key] = json.to_value(member.value) end
    return object
  elseif node.kind == "array" then
    local array = {}
    for index, item in ipairs(node.items) do array[index] = json.to_value(item) end
    return array
  end
  return node.value
end

rest_shape.json = json

---------------------------------------------------------------------------
-- The rule.
---------------------------------------------------------------------------

local function member_named(object, key)
  for _, member in ipairs(object.members) do
    if member.key == key then return member end
  end
  return nil
end

local function path_without_query(path)
  return string.match(path or "", "^[^?]*")
end

local function status_json(code, message)
  -- Messages are plain ASCII; quotes come escaped.
  return string.format('{"code":%d,"message":"%s","details":[]}', code, message)
end

--- "2024-10-28T08:04:08.99Z" -> "2024-10-28T08:04:08.990000Z"; nil if not a protobuf JSON timestamp.
function rest_shape.normalize_timestamp(value)
  local whole, fraction = string.match(value, "^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.(%d+)Z$")
  if not whole then
    whole = string.match(value, "^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)Z$")
    fraction = ""
  end
  if not whole then return nil end
  fraction = string.sub(fraction .. "000000", 1, 6)
  return whole .. "." .. fraction .. "Z"
end

--- "TASK_STATUS_PENDING" -> "pending"; nil for anything else.
function rest_shape.short_status(value)
  local name = string.match(value, "^TASK_STATUS_([A-Z0-9_]+)$")
  return name and string.lower(name) or nil
end

local TIMESTAMP_KEYS = { created_at = true, updated_at = true, schedule_time = true }

-- Rewrites one task object, copying every untouched key and value verbatim.
local function shape_task(text, task)
  -- `error` says why a failed task failed: shown for failed tasks only, and
  -- always a string there.
  local status = member_named(task, "status")
  local failed = status ~= nil and status.value.kind == "string" and status.value.value == "TASK_STATUS_FAILED"
  local members = {}
  for _, member in ipairs(task.members) do
    local value = member.value
    local replacement
    if value.kind == "string" and member.key == "status" then
      replacement = rest_shape.short_status(value.value)
    elseif value.kind == "string" and TIMESTAMP_KEYS[member.key] then
      replacement = rest_shape.normalize_timestamp(value.value)
    end
    if failed or member.key ~= "error" then
      local printed = replacement and ('"' .. replacement .. '"') or string.sub(text, value.first, value.last)
      members[#members + 1] = string.sub(text, member.key_first, member.key_last) .. ":" .. printed
    end
  end
  if not member_named(task, "updated_at") then members[#members + 1] = '"updated_at":null' end
  if failed and not member_named(task, "error") then members[#members + 1] = '"error":""' end
  return "{" .. table.concat(members, ",") .. "}"
end

--- The body of a successful REST response: {"task": {...}} becomes the
--- reshaped task, and in {"tasks": [...]} each task is reshaped; anything
--- else is returned unchanged.
function rest_shape.shape_success_body(text)
  local root = json.scan(text)
  local listing = root and root.kind == "object" and rest_shape.shape_listing_body(text, root)
  if listing then return listing end
  if not root or root.kind ~= "object" or #root.members ~= 1 then return text end
  local only = root.members[1]
  if only.key == "task" and only.value.kind == "object" then return shape_task(text, only.value) end
  if only.key == "tasks" and only.value.kind == "array" then
    local tasks = {}
    for index, item in ipairs(only.value.items) do
      if item.kind ~= "object" then return text end
      tasks[index] = shape_task(text, item)
    end
    return "{" .. string.sub(text, only.key_first, only.key_last) .. ":[" .. table.concat(tasks, ",") .. "]}"
  end
  return text
end

---------------------------------------------------------------------------
-- Unknown body fields. The same rule, case for case, as
-- gateway/src/body-fields.ts: the fields (proto and JSON names) of the
-- request messages of the routes that take a body, checked against
-- proto/ by gateway/test/envoy-config.test.ts.
---------------------------------------------------------------------------

local CREATE_TASK_FIELDS = { content = true, request_id = true, requestId = true, schedule_time = true, scheduleTime = true }
rest_shape.BODY_FIELDS = {
  ["POST /task"] = { fields = CREATE_TASK_FIELDS, lists = {} },
  ["POST /tasks:batchCreate"] = { fields = { requests = true }, lists = { requests = CREATE_TASK_FIELDS } },
}

local function unknown_field(name)
  -- Only a plain name is echoed, so the message needs no escaping.
  local message = string.match(name, "^[%w_%[%]%.]+$") and ('unknown field \\"' .. name .. '\\" in the request body')
    or "unknown field in the request body"
  return { status = 400, content_type = "application/json", body = status_json(3, message) }
end

--- `request` = {method, path, body}. Returns nil, or the 400 to answer when
--- the body names a field its request message does not have.
function rest_shape.check_body_fields(request)
  local rule = rest_shape.BODY_FIELDS[(request.method or "") .. " " .. path_without_query(request.path)]
  if not rule then return nil end
  local root = json.scan(request.body or "")
  -- Not a JSON object: the transcoder refuses it.
  if not root or root.kind ~= "object" then return nil end
  for _, member in ipairs(root.members) do
    if not rule.fields[member.key] then return unknown_field(member.key) end
    local item_fields = rule.lists[member.key]
    if item_fields and member.value.kind == "array" then
      for index, item in ipairs(member.value.items) do
        if item.kind == "object" then
          for _, field in ipairs(item.members) do
            if not item_fields[field.key] then return unknown_field(member.key .. "[" .. (index - 1) .. "]." .. field.key) end
          end
        end
      end
    end
  end
  return nil
end

---------------------------------------------------------------------------
-- Idempotency-Key. The same rule, case for case, as
-- gateway/src/idempotency-key.ts: for `POST /task`, the header goes into
-- the JSON body as its first member, request_id. Only keys of the
-- contract's alphabet are taken, so the key needs no escaping.
---------------------------------------------------------------------------

local KEYED_ROUTES = { ["POST /task"] = true }
rest_shape.INVALID_KEY_BODY = '{"code":3,"message":"Idempotency-Key must be 1 to 128 characters of [A-Za-z0-9._:-]","details":[]}'
rest_shape.DIFFERENT_KEY_BODY = '{"code":3,"message":"Idempotency-Key and request_id differ","details":[]}'

local function key_refusal(body)
  return { refusal = { status = 400, content_type = "application/json", body = body } }
end

--- `request` = {method, path, idempotency_key, body}. Returns {body = ...}
--- (the body to transcode) or {refusal = {status, content_type, body}}.
function rest_shape.apply_idempotency_key(request)
  local key, body = request.idempotency_key, request.body or ""
  if key == nil or not KEYED_ROUTES[(request.method or "") .. " " .. path_without_query(request.path)] then
    return { body = body }
  end
  if #key < 1 or #key > 128 or not string.match(key, "^[%w%.%_:%-]+$") then return key_refusal(rest_shape.INVALID_KEY_BODY) end
  local root = json.scan(body)
  -- Not a JSON object: the transcoder refuses it as it would without the header.
  if not root or root.kind ~= "object" then return { body = body } end
  local present = member_named(root, "request_id") or member_named(root, "requestId")
  if present then
    if present.value.kind == "string" and present.value.value == key then return { body = body } end
    return key_refusal(rest_shape.DIFFERENT_KEY_BODY)
  end
  local member = '"request_id":"' .. key .. '"' .. (#root.members > 0 and "," or "")
  return { body = string.sub(body, 1, root.first) .. member .. string.sub(body, root.first + 1) }
end

--- The fixed Status JSON for a local reply with this HTTP status.
function rest_shape.local_reply_body(http_status)
  local entry = LOCAL_REPLY_STATUS[http_status] or UNKNOWN_LOCAL_REPLY
  return status_json(entry[1], entry[2])
end

local function is_status_json(text)
  local root = json.scan(text)
  if not root or root.kind ~= "object" then return false end
  local code, message, details = member_named(root, "code"), member_named(root, "message"), member_named(root, "details")
  return code ~= nil and code.value.kind == "number" and code.value.value % 1 == 0
    and message ~= nil and message.value.kind == "string"
    and details ~= nil and details.value.kind == "array"
end

--- Is this a gRPC request (which the gateway passes through untouched)?
--- Same test as Envoy's Grpc::Common::hasGrpcContentType.
function rest_shape.is_grpc(content_type)
  if content_type == nil then return false end
  return content_type == "application/grpc" or string.sub(content_type, 1, 17) == "application/grpc+"
end

--- The challenge of a 401 answer (RFC 6750).
function rest_shape.bearer_challenge(had_credentials)
  local challenge = 'Bearer realm="' .. rest_shape.AUTH_REALM .. '"'
  if had_credentials then challenge = challenge .. ', error="invalid_token"' end
  return challenge
end

rest_shape.TOKEN_TOO_LARGE = "token too large (more than " .. rest_shape.MAX_TOKEN_BYTES .. " bytes)"

--- Request phase: nil to let the request through, or a response to send
--- instead ({status, content_type, body, headers}). `request` =
--- {content_length, authorization}, header values or nil.
function rest_shape.check_request(request)
  local length = tonumber(request.content_length or "")
  if length and length > rest_shape.MAX_REQUEST_BODY_BYTES then
    return { status = 413, content_type = "application/json", body = rest_shape.local_reply_body(413) }
  end
  -- The token's bound plus its scheme ("Bearer "), measured as task-api measures it.
  if request.authorization and #request.authorization > rest_shape.MAX_TOKEN_BYTES + 7 then
    return {
      status = 401, content_type = "application/json", body = status_json(16, rest_shape.TOKEN_TOO_LARGE),
      headers = { ["www-authenticate"] = rest_shape.bearer_challenge(true) },
    }
  end
  return nil
end

local function whole_seconds(value)
  local trimmed = value and string.match(value, "^%s*(%d+)%s*$")
  if not trimmed or #trimmed > 10 or tonumber(trimmed) < 1 then return nil end
  return string.format("%d", tonumber(trimmed))
end

--- The headers an error answer carries beside its Status body: a 401 its
--- challenge, a 429 its Retry-After (task-api's retry-after when it is a
--- whole number of seconds, else 1). Returns a table, name -> value.
function rest_shape.error_headers(status, had_credentials, retry_after)
  if status == 401 then return { ["www-authenticate"] = rest_shape.bearer_challenge(had_credentials) } end
  if status == 429 then return { ["retry-after"] = whole_seconds(retry_after) or "1" } end
  return {}
end

--- Response phase. `request` = {method, path}; `response` = {status,
--- content_type, body}. Returns the response to send, {status, content_type, body}.
function rest_shape.shape_response(request, response)
  local status, content_type, body = response.status, response.content_type, response.body or ""
  if status >= 200 and status < 300 then
    if content_type == "application/json" then body = rest_shape.shape_success_body(body) end
    if status == 200 and CREATED_ROUTES[request.method .. " " .. path_without_query(request.path)] then
      status = 201
    end
  elseif status >= 400 and not (content_type == "application/json" and is_status_json(body)) then
    content_type = "application/json"
    body = rest_shape.local_reply_body(status)
  end
  return { status = status, content_type = content_type, body = body }
end

---------------------------------------------------------------------------
-- Listing, history and watching (docs/watching.md); the same rule as in
-- gateway/src/rest-shape.ts.
---------------------------------------------------------------------------

-- Rewrites one event object: status short, "at" with six digits, a missing
-- error as null.
local function shape_event(text, event)
  local out = { "{" }
  for index, member in ipairs(event.members) do
    if index > 1 then out[#out + 1] = "," end
    out[#out + 1] = string.sub(text, member.key_first, member.key_last)
    out[#out + 1] = ":"
    local value = member.value
    local replacement
    if value.kind == "string" and member.key == "status" then
      replacement = rest_shape.short_status(value.value)
    elseif value.kind == "string" and member.key == "at" then
      replacement = rest_shape.normalize_timestamp(value.value)
    end
    out[#out + 1] = replacement and ('"' .. replacement .. '"') or string.sub(text, value.first, value.last)
  end
  if not member_named(event, "error") then
    out[#out + 1] = (#event.members > 0 and "," or "") .. '"error":null'
  end
  out[#out + 1] = "}"
  return table.concat(out)
end

--- {"tasks":[...],"next_page_token":"..."} with each task reshaped, or
--- {"events":[...]} with each event reshaped; nil for any other body.
function rest_shape.shape_listing_body(text, root)
  local first, second = root.members[1], root.members[2]
  if not first or first.value.kind ~= "array" then return nil end
  for _, item in ipairs(first.value.items) do
    if item.kind ~= "object" then return nil end
  end
  local shaped = {}
  if first.key == "tasks" and second and second.key == "next_page_token" and #root.members == 2 then
    for index, task in ipairs(first.value.items) do shaped[index] = shape_task(text, task) end
    return '{"tasks":[' .. table.concat(shaped, ",") .. "]," .. string.sub(text, second.key_first, second.value.last) .. "}"
  end
  if first.key == "events" and #root.members == 1 then
    for index, event in ipairs(first.value.items) do shaped[index] = shape_event(text, event) end
    return '{"events":[' .. table.concat(shaped, ",") .. "]}"
  end
  return nil
end

-- An SSE comment: keeps idle streams (and proxies on their way) alive;
-- EventSource ignores it.
rest_shape.SSE_KEEP_ALIVE = ": keep-alive\n\n"

--- One frame of a watch stream as the transcoder writes it with
--- stream_sse_style_delimited ("data: <message JSON>\n\n"): {"task": {...}}
--- becomes "data: <REST task>\n\n"; a message without a task (task-api's
--- keep-alive) becomes an SSE comment, never a task. Anything else passes.
function rest_shape.shape_sse_frame(frame)
  local message = string.match(frame, "^data: (.*)\n\n$")
  if not message then return frame end
  local root = json.scan(message)
  if not root or root.kind ~= "object" then return frame end
  if #root.members == 0 then return rest_shape.SSE_KEEP_ALIVE end
  local shaped = rest_shape.shape_success_body(message)
  if shaped == message then return frame end
  return "data: " .. shaped .. "\n\n"
end

--- Splits stream text into whole frames (each shaped) and the unfinished
--- rest, which waits for the next chunk. Returns shaped text, rest.
function rest_shape.shape_sse_text(text)
  local out, from = {}, 1
  while true do
    local last = string.find(text, "\n\n", from, true)
    if not last then break end
    out[#out + 1] = rest_shape.shape_sse_frame(string.sub(text, from, last + 1))
    from = last + 2
  end
  return table.concat(out), string.sub(text, from)
end

local STATUS_NAMES = { pending = true, processing = true, completed = true, canceled = true, failed = true }

local function refusal(message)
  return { status = 400, content_type = "application/json", body = status_json(3, message) }
end

--- Request phase of GET /tasks: status=pending becomes the enum name the
--- transcoder reads (status=TASK_STATUS_PENDING); a status that is not a
--- lower-case name, or a page_size that is not a number, is refused with a
--- message naming the parameter. Returns {path = ...} to go on, or the
--- refusal ({status, content_type, body}).
function rest_shape.rewrite_list_query(request)
  local path, query = string.match(request.path or "", "^([^?]*)%??(.*)$")
  if request.method ~= "GET" or path ~= "/tasks" or query == "" then return { path = request.path } end
  local parts = {}
  for part in string.gmatch(query, "[^&]+") do
    local name, value = string.match(part, "^([^=]*)=?(.*)$")
    if name == "status" then
      if not STATUS_NAMES[value] then
        return refusal("status must be one of pending, processing, completed, canceled, failed")
      end
      part = "status=TASK_STATUS_" .. string.upper(value)
    elseif name == "page_size" and not (string.match(value, "^%-?%d+$") and #value <= 11 and #string.match(value, "%d+") <= 10) then
      return refusal("page_size must be an integer")
    end
    parts[#parts + 1] = part
  end
  return { path = path .. "?" .. table.concat(parts, "&") }
end

---------------------------------------------------------------------------
-- Envoy entry points.
---------------------------------------------------------------------------

-- gRPC's own headers say nothing a REST client needs once the body carries
-- the Status, and the embedded gateway does not send them either.
local GRPC_RESPONSE_HEADERS = { "grpc-status", "grpc-message", "grpc-status-details-bin" }

-- Answers the request with `reply` ({status, content_type, body, headers}).
local function respond(handle, reply)
  handle:streamInfo():dynamicMetadata():set(rest_shape.METADATA_NAMESPACE, rest_shape.LOCAL_REPLY_KEY, true)
  local headers = { [":status"] = tostring(reply.status), ["content-type"] = reply.content_type }
  for name, value in pairs(reply.headers or {}) do headers[name] = value end
  handle:respond(headers, reply.body)
end

function envoy_on_request(handle)
  local headers = handle:headers()
  if rest_shape.is_grpc(headers:get("content-type")) then return end
  local request = { method = headers:get(":method"), path = headers:get(":path") }
  local authorization = headers:get("authorization")
  -- The response phase cannot see request headers; remember what it needs
  -- (whether credentials came, never what they were).
  local metadata = handle:streamInfo():dynamicMetadata()
  metadata:set(rest_shape.METADATA_NAMESPACE, "method", request.method)
  metadata:set(rest_shape.METADATA_NAMESPACE, "path", request.path)
  metadata:set(rest_shape.METADATA_NAMESPACE, "had_credentials", authorization ~= nil)
  local refusal = rest_shape.check_request({ content_length = headers:get("content-length"), authorization = authorization })
  if refusal then return respond(handle, refusal) end
  local rewritten = rest_shape.rewrite_list_query(request)
  if rewritten.status then
    return respond(handle, rewritten)
  elseif rewritten.path ~= request.path then
    headers:replace(":path", rewritten.path)
  end
  local route = request.method .. " " .. path_without_query(request.path)
  if not rest_shape.BODY_FIELDS[route] then return end
  -- Routes with a body: buffer it (at most 1 MiB, checked above). A request
  -- without one has no content either and is refused upstream as such.
  local body = handle:body()
  local original = body and body:getBytes(0, body:length()) or ""
  local unknown = rest_shape.check_body_fields({ method = request.method, path = request.path, body = original })
  if unknown then return respond(handle, unknown) end
  local keyed = rest_shape.apply_idempotency_key({
    method = request.method, path = request.path, idempotency_key = headers:get("idempotency-key"), body = original,
  })
  if keyed.refusal then return respond(handle, keyed.refusal) end
  -- setBytes also sets content-length to the new size.
  if body and keyed.body ~= original then body:setBytes(keyed.body) end
end

function envoy_on_response(handle)
  local request = handle:streamInfo():dynamicMetadata():get(rest_shape.METADATA_NAMESPACE)
  if request == nil or request.method == nil then return end -- gRPC: untouched
  local headers = handle:headers()
  for _, name in ipairs(GRPC_RESPONSE_HEADERS) do headers:remove(name) end
  if request.method == "HEAD" then return end -- no body to shape
  if headers:get("content-type") == "text/event-stream" then
    -- A watch: never buffered. Each chunk is rewritten as it passes; a frame
    -- cut across chunks waits for the rest of it in the next one.
    local rest = ""
    for chunk in handle:bodyChunks() do
      local shaped
      shaped, rest = rest_shape.shape_sse_text(rest .. chunk:getBytes(0, chunk:length()))
      chunk:setBytes(shaped)
    end
    return
  end
  local body = handle:body(true)
  local original = body:getBytes(0, body:length())
  local shaped = rest_shape.shape_response(request, {
    status = tonumber(headers:get(":status")),
    content_type = headers:get("content-type"),
    body = original,
  })
  headers:replace(":status", tostring(shaped.status))
  if shaped.content_type then headers:replace("content-type", shaped.content_type) end
  if shaped.status >= 400 then
    -- A RESOURCE_EXHAUSTED from task-api has its retry-after in the gRPC
    -- trailers (in the headers of a trailers-only answer); the body is
    -- complete here, so the trailers are too, and the headers not yet sent.
    local retry_after = headers:get("retry-after")
    if retry_after == nil and shaped.status == 429 then
      local trailers = handle:trailers()
      retry_after = trailers and trailers:get("retry-after")
    end
    for name, value in pairs(rest_shape.error_headers(shaped.status, request.had_credentials, retry_after)) do
      headers:replace(name, value)
    end
  end
  -- setBytes also sets content-length to the new size.
  if shaped.body ~= original then body:setBytes(shaped.body) end
end

return rest_shape
