package lib.plinth.exempt

# An image is exempt when it equals an entry of parameters.exemptImages, or the
# entry ends in "*" and the image starts with the rest of it.
is_exempt(container) {
  patterns := object.get(object.get(input, "parameters", {}), "exemptImages", [])
  matches(patterns[_], container.image)
}

matches(pattern, image) {
  pattern == image
}

matches(pattern, image) {
  endswith(pattern, "*")
  startswith(image, trim_suffix(pattern, "*"))
}
