-- usage: lua5.4 bench/instr/served.lua SCRIPT ARGS...
-- Runs a server script (one that ends in netsock.run()) so that SIGTERM
-- ends its loop and the process exits normally: callgrind then writes
-- its totals (bench/instr's task-server tests).
local netsock = require "netsock"
netsock.onsignal("SIGTERM", function() netsock.stop() end)
local script = table.remove(arg, 1)
dofile(script)
