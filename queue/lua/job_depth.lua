-- KEYS: leased, dead, targets.  ARGV: key prefix.
return depth(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
