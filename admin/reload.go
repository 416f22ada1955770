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
func (s *Server) reload(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.done(ctx, w, req, nil, decodeError(err))
		return
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			err = io.EOF
		}
		s.done(ctx, w, req, nil, decodeError(err))
		return
	}
	var (
		cfg   registry.Config
		attrs []slog.Attr
		e     *apiError
	)
	if raw, ok := probe["path"]; ok && len(probe) == 1 {
		var path string
		if err := json.Unmarshal(raw, &path); err != nil {
			e = badRequest("path", "path must be a string")
		} else {
			attrs = append(attrs, slog.String("path", truncate(path)))
			cfg, e = s.readConfig(path)
		}
	} else {
		attrs = append(attrs, slog.String("source", "body"))
		if cfg, err = registry.ParseConfig(bytes.NewReader(body)); err != nil {
			e = badRequest("", err.Error())
		}
	}
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	reg := s.cfg.Registry
	prev := reg.Version()
	if err := reg.Load(cfg); err != nil {
		e, ok := fromConfigError(err, http.StatusBadRequest)
		if !ok {
			e = badRequest("", err.Error())
		}
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	v := reg.Version()
	attrs = append(attrs, slog.Uint64("previous_version", prev), slog.Uint64("version", v))
	s.done(ctx, w, req, struct {
		Version         uint64   `json:"version"`
		PreviousVersion uint64   `json:"previous_version"`
		Policies        []string `json:"policies"`
	}{v, prev, nonNil(reg.PolicyNames())}, nil, attrs...)
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
		return registry.Config{}, internal("opening the configuration directory")
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
