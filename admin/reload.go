package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/baldur-go/baldur/registry"
)

// reload validates a configuration and swaps it in: POST /reload. The body
// is either {"path": "name.json"}, read inside Config.ConfigDir, or a whole
// configuration document (the registry's file format). A configuration
// that does not validate is a 400 naming the field, and the previous one
// keeps serving.
func (s *Server) reload(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	cfg, attrs, e := s.reloadInput(r)
	if e != nil {
		return nil, attrs, e
	}
	reg := s.cfg.Registry
	prev := reg.Version()
	if err := reg.Load(cfg); err != nil {
		e, ok := fromConfigError(err, http.StatusBadRequest)
		if !ok {
			e = badRequest("", err.Error())
		}
		return nil, attrs, e
	}
	v := reg.Version()
	return struct {
		Version         uint64   `json:"version"`
		PreviousVersion uint64   `json:"previous_version"`
		Policies        []string `json:"policies"`
	}{v, prev, nonNil(reg.PolicyNames())}, append(attrs, slog.Uint64("previous_version", prev), slog.Uint64("version", v)), nil
}

// reloadInput reads the configuration a reload names or carries, with the
// audit attribute saying where it came from.
func (s *Server) reloadInput(r *http.Request) (registry.Config, []slog.Attr, *apiError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return registry.Config{}, nil, decodeError(err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			err = io.EOF
		}
		return registry.Config{}, nil, decodeError(err)
	}
	raw, ok := probe["path"]
	if !ok || len(probe) != 1 {
		attrs := []slog.Attr{slog.String("source", "body")}
		cfg, err := registry.ParseConfig(bytes.NewReader(body))
		if err != nil {
			return registry.Config{}, attrs, badRequest("", err.Error())
		}
		return cfg, attrs, nil
	}
	var path string
	if err := json.Unmarshal(raw, &path); err != nil {
		return registry.Config{}, nil, badRequest("path", "path must be a string")
	}
	cfg, e := s.readConfig(path)
	return cfg, []slog.Attr{slog.String("path", truncate(path))}, e
}

// readConfig reads a configuration file inside Config.ConfigDir; os.Root
// refuses a path that escapes it (.., absolute paths, symlinks out).
func (s *Server) readConfig(path string) (registry.Config, *apiError) {
	if s.cfg.ConfigDir == "" {
		return registry.Config{}, badRequest("path", "path reloads are off: the admin server has no ConfigDir")
	}
	if e := checkText("path", path, true, maxKeyLen); e != nil {
		return registry.Config{}, e
	}
	root, err := os.OpenRoot(s.cfg.ConfigDir)
	if err != nil {
		s.log.Error("admin: opening ConfigDir", slog.String("error", err.Error()))
		return registry.Config{}, internal("opening the configuration directory", nil)
	}
	defer root.Close()
	f, err := root.Open(path)
	if err != nil {
		return registry.Config{}, badRequest("path", "cannot open "+path+": "+pathError(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBody+1))
	if err != nil {
		return registry.Config{}, badRequest("path", "cannot read "+path+": "+pathError(err))
	}
	if len(b) > maxConfigBody {
		return registry.Config{}, badRequest("path", path+" is larger than 4 MiB")
	}
	cfg, err := registry.ParseConfig(bytes.NewReader(b))
	if err != nil {
		return registry.Config{}, badRequest("", err.Error())
	}
	return cfg, nil
}

// pathError is the reason of a file error without the server's directory.
func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
