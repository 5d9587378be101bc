package editor

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// dist holds the built browser editor (npm run build writes it).
//
//go:embed dist
var dist embed.FS

// staticHandler serves the built editor: files under dist, and index.html
// for every other path that is not part of the API.
func staticHandler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			// Vite names assets by content hash, so they never change.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
