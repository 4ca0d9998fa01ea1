"""The portal: server-rendered pages over the services' public APIs."""
