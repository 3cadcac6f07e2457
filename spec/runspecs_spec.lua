-- tools/runspecs: no spec file can hang the suite (issue 21). Each file
-- runs under a time limit (NETSOCK_SPEC_TIMEOUT); when it is exceeded,
-- the file's whole process group is killed, the file is named as failed,
-- and the summary line still prints.
local H = require "helpers"

H.linux_describe("tools/runspecs", "/proc (strays, descriptors)", function()
  it("kills a spec file that hangs, with its children, names it, and still prints the summary", function()
    local dir = H.tmpdir()
    local pidfile = H.tmpname(".pid")
    local hang = dir .. "/hang_spec.lua"
    H.writefile(hang, ([[
describe("hangs", function()
  it("forever", function()
    os.execute("sleep 300 & echo $! > %s")
    while true do end
  end)
end)
]]):format(pidfile))
    local good = dir .. "/fine_spec.lua"
    H.writefile(good, 'describe("fine", function() it("passes", function() assert.is_true(true) end) end)\n')
    local p = H.spawn(("NETSOCK_SPEC_TIMEOUT=2 sh tools/runspecs busted --lua=lua5.4 %s %s")
      :format(H.shquote(hang), H.shquote(good)))
    finally(function() p:kill() end)
    local rc = p:wait(60)
    local out = p:output()
    assert.is_not_nil(rc, "runspecs did not end within 60 s:\n" .. out)
    assert.are_not.equal(0, rc, out)
    assert.truthy(out:find(hang .. ": timed out after 2 s (NETSOCK_SPEC_TIMEOUT)", 1, true), out)
    assert.truthy(out:find("specs: failed in: " .. hang .. "(timed out)", 1, true), out)
    assert.truthy(out:find("specs: 1 passed, 1 failed, 0 skipped", 1, true), out)
    local child = tonumber(H.readfile(pidfile) or "")
    assert.is_not_nil(child, "the hanging spec never started its child:\n" .. out)
    local stat = H.readfile("/proc/" .. child .. "/stat")
    local state = stat and stat:match("^%d+ %b() (%a)")
    assert.is_true(state == nil or state == "Z", "the hanging spec's child still runs: " .. tostring(stat))
  end)

  it("stops a process a spec file leaves running, names the file as failed, and passes no lock on", function()
    local dir = H.tmpdir()
    local pidfile = H.tmpname(".pid")
    local fdfile = H.tmpname(".fds")
    local leaky = dir .. "/leaky_spec.lua"
    H.writefile(leaky, ([[
describe("leaky", function()
  it("starts a daemon of its own session and returns", function()
    os.execute("setsid sh -c 'sleep 300 & echo $! > %s' < /dev/null > /dev/null 2>&1")
    os.execute("ls /proc/self/fd > %s")
  end)
end)
]]):format(pidfile, fdfile))
    -- fd 7 stands for the lock flock(1) holds while make test runs
    local lock = H.tmpname(".lock")
    local p = H.spawn(("exec 7>%s; sh tools/runspecs busted --lua=lua5.4 %s")
      :format(H.shquote(lock), H.shquote(leaky)))
    finally(function() p:kill() end)
    local rc = p:wait(60)
    local out = p:output()
    assert.is_not_nil(rc, "runspecs did not end within 60 s:\n" .. out)
    assert.are_not.equal(0, rc, out)
    assert.truthy(out:find(leaky .. ": left processes running", 1, true), out)
    assert.truthy(out:find("specs: failed in: " .. leaky .. "(left processes)", 1, true), out)
    assert.truthy(out:find("specs: 1 passed, 1 failed, 0 skipped", 1, true), out)
    local child = tonumber(H.readfile(pidfile) or "")
    assert.is_not_nil(child, "the spec never started its daemon:\n" .. out)
    local stat = H.readfile("/proc/" .. child .. "/stat")
    local state = stat and stat:match("^%d+ %b() (%a)")
    assert.is_true(state == nil or state == "Z", "the daemon still runs: " .. tostring(stat))
    local fds = {}
    for fd in (H.readfile(fdfile) or ""):gmatch("%d+") do fds[tonumber(fd)] = true end
    assert.is_true(fds[0] and fds[1] and fds[2], "no standard descriptors?")
    assert.is_nil(fds[7], "the spec inherited the caller's descriptor 7")
  end)

  it("rejects a time limit that is not a number of seconds", function()
    local p = H.spawn("NETSOCK_SPEC_TIMEOUT=soon sh tools/runspecs busted --lua=lua5.4 spec/runspecs_spec.lua")
    finally(function() p:kill() end)
    assert.are.equal(2, p:wait(20))
    assert.truthy(p:output():find("NETSOCK_SPEC_TIMEOUT must be a number of seconds", 1, true), p:output())
  end)
end)
