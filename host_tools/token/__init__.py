"""Device tokens: AccessToken2-compatible build, parse and verify (`accesstoken2`), and the
`edgecall token` commands (`cli`)."""
