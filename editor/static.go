package editor

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// dist holds the built browser editor (npm run build writes it from
// editor/web; the build is committed so that go build needs no Node).
//
//go:embed dist
var dist embed.FS

// staticHandler serves the built editor: the files under dist, gzipped for
// clients that accept it (each file compressed once, on first request).
func staticHandler() http.Handler {
	sub := distFS()
	files := http.FileServerFS(sub)
	var gz sync.Map // path → []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			// Vite names assets by content hash, so they never change.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		ext := path.Ext(name)
		if ext != ".js" && ext != ".css" && ext != ".html" && ext != ".svg" || !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			files.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Accept-Encoding")
		b, ok := gz.Load(name)
		if !ok {
			raw, err := fs.ReadFile(sub, name)
			if err != nil {
				files.ServeHTTP(w, r) // 404 or a directory, as the file server answers it
				return
			}
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(raw)
			zw.Close()
			b, _ = gz.LoadOrStore(name, buf.Bytes())
		}
		w.Header().Set("Content-Type", mime.TypeByExtension(ext))
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(b.([]byte))))
		w.Write(b.([]byte))
	})
}

// distFS returns the built editor's files.
func distFS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	return sub
}
