-- Loaded by busted before the specs (.busted: helper). busted 2.1 keeps
-- only the last function given to finally() in a test, so a test that
-- registers two clean-ups (close a socket, stop a peer) would silently
-- skip the first. Here every test's finally collects them all and runs
-- each, last first, even when an earlier one raises.
local busted = require "busted"

busted.subscribe({ "test", "start" }, function(element)
  local env = element.env
  local register = env and env.finally
  if register then
    local list
    env.finally = function(fn)
      if not list then
        list = {}
        register(function()
          local first
          for i = #list, 1, -1 do
            local ok, err = pcall(list[i])
            if not ok and first == nil then first = err end
          end
          if first ~= nil then error(first, 0) end
        end)
      end
      list[#list + 1] = fn
    end
  end
  return nil, true
end)
