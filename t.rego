package k8scontainerlimits

import data.lib.plinth.exempt

violation[{"msg": msg}] {
  c := checked_containers[_]
  not c.resources.limits
  msg := sprintf("container <%v> has no resource limits", [c.name])
}

violation[{"msg": msg}] {
  [resource, name, value] := limited[_]
  unset(value)
  msg := sprintf("container <%v> has no %v limit", [name, resource])
}

violation[{"msg": msg}] {
  [resource, name, value] := limited[_]
  not milli[[resource, value]]
  msg := sprintf("container <%v> %v limit <%v> could not be parsed", [name, resource, value])
}

violation[{"msg": msg}] {
  [resource, name, value] := limited[_]
  milli[[resource, value]] > maximum[resource]
  msg := sprintf("container <%v> %v limit <%v> is higher than the maximum allowed of <%v>", [name, resource, value, input.parameters[resource]])
}

checked_containers[c] {
  c := input.review.object.spec.containers[_]
  not exempt.is_exempt(c)
}

checked_containers[c] {
  c := input.review.object.spec.initContainers[_]
  not exempt.is_exempt(c)
}

# [resource, container name, its limit or ""] for every resource whose maximum is
# set. Keyed by name, not by the container object: every message names only these
# three, and set members that are whole containers are costly to compare.
limited[[resource, name, value]] {
  c := checked_containers[_]
  limits := c.resources.limits
  name := c.name
  resource := enabled[_]
  value := object.get(limits, resource, "")
}

# Each distinct limit in milli-units, parsed once (absent when unparsable).
milli[[resource, value]] = m {
  [resource, _, value] := limited[_]
  m := canonical(resource, value)
}

# The maxima in milli-units, computed once per review (undefined when unparsable).
maximum[resource] = milli {
  resource := enabled[_]
  milli := canonical(resource, input.parameters[resource])
}

# The resources whose maximum is set and not "-1".
enabled[resource] {
  resource := ["cpu", "memory"][_]
  given := input.parameters[resource]
  given != "-1"
  given != -1
}

# A missing limit reads as "" (see limited); false is as good as missing.
unset(value) {
  value == ""
}

unset(value) {
  value == false
}

# Digits, optionally followed by "." and more digits (^[0-9]+(\.[0-9]+)?$).
# Written with string functions: it runs for every limit of every container,
# and regorus 0.14 rebuilds a regex's matching cache on every regex.match call.
decimal(s) {
  parts := split(s, ".")
  count(parts) <= 2
  count([p | p := parts[_]; not digits(p)]) == 0
}

digits(s) {
  s != ""
  trim_left(s, "0123456789") == ""
}

canonical("cpu", value) = milli {
  is_number(value)
  milli := value * 1000
}

canonical("cpu", value) = milli {
  is_string(value)
  endswith(value, "m")
  digits := trim_suffix(value, "m")
  decimal(digits)
  milli := to_number(digits)
}

canonical("cpu", value) = milli {
  is_string(value)
  decimal(value)
  milli := to_number(value) * 1000
}

canonical("memory", value) = milli {
  is_number(value)
  milli := value * 1000
}

canonical("memory", value) = milli {
  is_string(value)
  suffix := memory_suffix(value)
  digits := trim_suffix(value, suffix)
  decimal(digits)
  milli := to_number(digits) * memory_multiple[suffix]
}

memory_suffix(value) = suffix {
  count(value) > 2
  suffix := substring(value, count(value) - 2, 2)
  memory_multiple[suffix]
} else = suffix {
  count(value) > 1
  suffix := substring(value, count(value) - 1, 1)
  memory_multiple[suffix]
} else = ""

memory_multiple = {
  "E": 1000000000000000000000,
  "P": 1000000000000000000,
  "T": 1000000000000000,
  "G": 1000000000000,
  "M": 1000000000,
  "k": 1000000,
  "": 1000,
  "m": 1,
  "Ki": 1024000,
  "Mi": 1048576000,
  "Gi": 1073741824000,
  "Ti": 1099511627776000,
  "Pi": 1125899906842624000,
  "Ei": 1152921504606846976000
}
