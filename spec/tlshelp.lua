-- spec/tlshelp.lua: the TLS helpers' old name. They are H.tls in
-- spec/helpers.lua, the one helpers module; new specs use that.
return require("helpers").tls
