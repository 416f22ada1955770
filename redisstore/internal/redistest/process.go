package redistest

// Launch starts a server outside a test (the fleet demo program), with the
// options Start takes. The caller stops it with Close. An error says why
// the server did not start, with the install command when no binary is on
// PATH.
func Launch(opts Options) (*Server, error) {
	bin, err := findBinary()
	if err != nil {
		return nil, &launchError{err}
	}
	return start(bin, opts)
}

type launchError struct{ err error }

func (e *launchError) Error() string {
	return "redistest: " + e.err.Error() + "; install it with `" + InstallHint + "`"
}

func (e *launchError) Unwrap() error { return e.err }

// Stop kills the server's process group with SIGKILL, as Kill does, for a
// caller that is not a test. What was not in the AOF is lost.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	killGroup(s.cmd, s.done)
	s.cmd, s.done = nil, nil
}

// Relaunch is Restart for a caller that is not a test: it kills the
// server if it runs and starts it again on the same socket and directory
// with the same options (an AOF written before is loaded back).
func (s *Server) Relaunch() error {
	s.Stop()
	return s.launch()
}
