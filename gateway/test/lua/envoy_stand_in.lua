-- A small stand-in for the parts of Envoy's Lua stream handle API that
-- gateway/lua/rest_shape.lua uses, strict where Envoy is strict:
--   * header names are lower case; get() returns nil for a missing header;
--   * body() returns nil for an absent body unless always_wrap_body is true;
--   * buffer:getBytes() refuses out-of-range reads; buffer:setBytes() also
--     sets content-length (Envoy's BufferWrapper::luaSetBytes does);
--   * respond() exists in the request phase only and needs a :status;
--   * dynamic metadata is shared by the request and response of one stream;
--   * calling any method Envoy does not offer is an error.

local stand_in = {}

local function strict(kind, methods)
  return setmetatable(methods, {
    __index = function(_, name)
      error(kind .. " has no method '" .. tostring(name) .. "' in this stand-in (nor, as used, in Envoy)", 2)
    end,
  })
end

local function header_map(initial)
  local values = {}
  for name, value in pairs(initial or {}) do
    assert(name == string.lower(name), "header names are lower case: " .. name)
    values[name] = value
  end
  local map = strict("header map", {})
  rawset(map, "values", values)
  rawset(map, "get", function(self, name) return self.values[name] end)
  rawset(map, "replace", function(self, name, value)
    assert(type(value) == "string", "header values are strings")
    self.values[name] = value
  end)
  rawset(map, "add", function(self, name, value) self.values[name] = value end)
  rawset(map, "remove", function(self, name) self.values[name] = nil end)
  return map
end

local function buffer(headers, bytes)
  local wrapper = strict("buffer", {})
  rawset(wrapper, "bytes", bytes)
  rawset(wrapper, "length", function(self) return #self.bytes end)
  rawset(wrapper, "getBytes", function(self, index, length)
    if index < 0 or length < 0 or index + length > #self.bytes then
      error("index/length must be >= 0 and (index + length) must be <= buffer size")
    end
    return string.sub(self.bytes, index + 1, index + length)
  end)
  rawset(wrapper, "setBytes", function(self, text)
    self.bytes = text
    headers:replace("content-length", tostring(#text))
    return #text
  end)
  return wrapper
end

local function metadata_store()
  local namespaces = {}
  local store = strict("dynamic metadata", {})
  rawset(store, "set", function(_, namespace, key, value)
    assert(type(namespace) == "string" and type(key) == "string", "set(namespace, key, value)")
    namespaces[namespace] = namespaces[namespace] or {}
    namespaces[namespace][key] = value
  end)
  rawset(store, "get", function(_, namespace) return namespaces[namespace] end)
  return store
end

--- One HTTP stream: a request handle, then a response handle, sharing metadata.
function stand_in.stream()
  local stream = { metadata = metadata_store() }
  local stream_info = strict("stream info", {})
  rawset(stream_info, "dynamicMetadata", function() return stream.metadata end)

  -- `body` nil means a request without a body.
  function stream.request_handle(headers, body)
    local handle = strict("request handle", {})
    local map = header_map(headers)
    rawset(handle, "header_map", map)
    rawset(handle, "headers", function(self) return self.header_map end)
    rawset(handle, "body", function(self, always_wrap_body)
      if rawget(self, "buffer") == nil then
        if body == nil and not always_wrap_body then return nil end
        rawset(self, "buffer", buffer(map, body or ""))
      end
      return self.buffer
    end)
    rawset(handle, "final_body", function(self)
      if rawget(self, "buffer") then return self.buffer.bytes end
      return body
    end)
    rawset(handle, "streamInfo", function() return stream_info end)
    rawset(handle, "respond", function(self, response_headers, body)
      assert(response_headers[":status"], "respond() needs a :status header")
      assert(rawget(self, "responded") == nil, "respond() called twice")
      rawset(self, "responded", { headers = response_headers, body = body })
    end)
    return handle
  end

  -- `body` nil means a headers-only response (end_stream on the headers);
  -- `trailers` nil one that ends without trailers (trailers() is then nil,
  -- as in Envoy once the stream has ended).
  function stream.response_handle(headers, body, trailers)
    local handle = strict("response handle", {})
    local map = header_map(headers)
    rawset(handle, "header_map", map)
    rawset(handle, "body_read", false)
    rawset(handle, "trailers", function(self)
      assert(rawget(self, "body_read") or body == nil, "trailers() before body() would wait for the body unbuffered")
      if trailers == nil then return nil end
      if rawget(self, "trailer_map") == nil then rawset(self, "trailer_map", header_map(trailers)) end
      return self.trailer_map
    end)
    rawset(handle, "headers", function(self) return self.header_map end)
    rawset(handle, "streamInfo", function() return stream_info end)
    rawset(handle, "body", function(self, always_wrap_body)
      rawset(self, "body_read", true)
      if rawget(self, "buffer") == nil then
        if body == nil and not always_wrap_body then return nil end
        rawset(self, "buffer", buffer(map, body or ""))
      end
      return self.buffer
    end)
    rawset(handle, "final_body", function(self)
      if rawget(self, "buffer") then return self.buffer.bytes end
      return body
    end)
    return handle
  end

  -- A streamed response: `chunks` arrive one by one through bodyChunks(),
  -- after the headers went out (so a chunk's setBytes changes the bytes
  -- sent, not the headers), and body() is refused, as the script must not
  -- buffer a stream.
  function stream.streaming_response_handle(headers, chunks)
    local handle = strict("response handle", {})
    local map = header_map(headers)
    local sent = {}
    rawset(handle, "header_map", map)
    rawset(handle, "sent", sent)
    rawset(handle, "headers", function(self) return self.header_map end)
    rawset(handle, "streamInfo", function() return stream_info end)
    rawset(handle, "body", function() error("body() buffers the whole stream; a watch must not be buffered") end)
    rawset(handle, "bodyChunks", function()
      local index = 0
      local previous
      return function()
        if previous then sent[#sent + 1] = previous.bytes end
        index = index + 1
        if chunks[index] == nil then
          previous = nil
          return nil
        end
        previous = buffer(header_map({}), chunks[index])
        return previous
      end
    end)
    return handle
  end

  return stream
end

--- Runs an entry point as Envoy does: as a coroutine, failing on error.
function stand_in.run(entry, handle)
  local co = coroutine.create(entry)
  local ok, err = coroutine.resume(co, handle)
  if not ok then error(err, 0) end
  assert(coroutine.status(co) == "dead", "script yielded outside an Envoy call")
end

return stand_in
