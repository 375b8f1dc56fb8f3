"""The API's views, one module per Mastodon resource. Each view parses, calls one selector or
service, passes any posts through the read gate and serializes what the gate let through."""
