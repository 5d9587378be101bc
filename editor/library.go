package editor

// The local flow library: selections of flows a user saved by name (the
// editor's Export → Save to library) to insert again later (Import →
// Library). Node-RED keeps them as files under ~/.node-red/lib/flows; Runnel
// keeps them as files too, one NAME.json each in Options.LibraryDir
// (DATA/lib/flows for runnel serve), so that they can be copied, kept in
// git, and read without Runnel.
//
//	GET    /library/flows          the entries: [{"name","size","modified"}], by name
//	GET    /library/flows/{name}   one entry, the flow JSON array saved
//	POST   /library/flows/{name}   save (or replace) an entry: a JSON array of flow objects; 204
//	DELETE /library/flows/{name}   delete an entry; 204
//
// Names come from users and are hostile input: they are checked against a
// short pattern (no separators, no leading dot, at most 64 characters), and
// every file is opened through an os.Root on the directory, so that no name
// and no symbolic link can reach outside it. An entry is at most 1 MiB and
// the library holds at most 1,000 entries.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// maxLibraryEntry bounds the size of one library entry.
	maxLibraryEntry = 1 << 20
	// maxLibraryEntries bounds the number of entries.
	maxLibraryEntries = 1000
	// maxLibraryName bounds a name's length, in characters.
	maxLibraryName = 64
)

var libraryName = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._-]*$`)

var errLibraryName = errors.New("a library name is 1 to 64 letters, digits, spaces, dots, dashes and underscores, beginning with a letter or digit and not ending in a space or dot")

// checkLibraryName reports whether name may name a library entry.
func checkLibraryName(name string) error {
	if n := len([]rune(name)); n == 0 || n > maxLibraryName || !libraryName.MatchString(name) ||
		strings.HasSuffix(name, " ") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return errLibraryName
	}
	return nil
}

// libraryEntry is one entry of GET /library/flows.
type libraryEntry struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// libMu serialises changes to the library (the count limit).
var libMu sync.Mutex

func (a *API) mountLibrary() {
	a.handle("GET /library/flows", RoleRead, a.getLibrary)
	a.handle("GET /library/flows/{name}", RoleRead, a.getLibraryEntry)
	a.handle("POST /library/flows/{name}", RoleFull, a.postLibraryEntry)
	a.handle("DELETE /library/flows/{name}", RoleFull, a.deleteLibraryEntry)
}

// libraryRoot opens the library directory, creating it when create is
// set; without a LibraryDir it answers 404 and returns nil. A directory
// that does not exist yet is an empty library: (nil, nil) when !create.
func (a *API) libraryRoot(w http.ResponseWriter, create bool) (*os.Root, bool) {
	dir := a.opts.LibraryDir
	if dir == "" {
		writeError(w, http.StatusNotFound, "this server has no flow library", nil)
		return nil, false
	}
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			writeError(w, http.StatusInternalServerError, "library: "+err.Error(), nil)
			return nil, false
		}
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, true
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "library: "+err.Error(), nil)
		return nil, false
	}
	return root, true
}

// entries lists the library's entries (files NAME.json with a valid name).
func libraryEntries(root *os.Root) ([]libraryEntry, error) {
	out := []libraryEntry{}
	if root == nil {
		return out, nil
	}
	ents, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || checkLibraryName(name) != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, libraryEntry{Name: name, Size: info.Size(), Modified: info.ModTime().UTC().Truncate(time.Second)})
	}
	slices.SortFunc(out, func(x, y libraryEntry) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func (a *API) getLibrary(w http.ResponseWriter, r *http.Request) {
	root, ok := a.libraryRoot(w, false)
	if !ok {
		return
	}
	if root != nil {
		defer root.Close()
	}
	out, err := libraryEntries(root)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "library: "+err.Error(), nil)
		return
	}
	writeJSON(w, out)
}

// libraryName checks the request's name, answering 400 when it is not one.
func libraryNameOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if err := checkLibraryName(name); err != nil {
		writeAuthError(w, http.StatusBadRequest, "invalid_name", fmt.Sprintf("%q: %v", name, err))
		return "", false
	}
	return name, true
}

func (a *API) getLibraryEntry(w http.ResponseWriter, r *http.Request) {
	name, ok := libraryNameOf(w, r)
	if !ok {
		return
	}
	root, ok := a.libraryRoot(w, false)
	if !ok {
		return
	}
	if root == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no library entry %q", name), nil)
		return
	}
	defer root.Close()
	f, err := root.Open(name + ".json")
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no library entry %q", name), nil)
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no library entry %q", name), nil)
		return
	}
	b, err := io.ReadAll(io.LimitReader(f, maxLibraryEntry+1))
	if err != nil || len(b) > maxLibraryEntry {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("library entry %q cannot be read or is too large", name), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// checkLibraryFlow checks that b is a JSON array of flow objects, each
// with a string id and type, and returns it compacted, in its own order.
func checkLibraryFlow(b []byte) ([]byte, error) {
	var objs []map[string]json.RawMessage
	if err := json.Unmarshal(b, &objs); err != nil {
		return nil, fmt.Errorf("a library entry is a JSON array of flow objects: %v", err)
	}
	if len(objs) == 0 {
		return nil, errors.New("a library entry needs at least one node")
	}
	for i, o := range objs {
		if o == nil {
			return nil, fmt.Errorf("object %d is null", i)
		}
		for _, k := range []string{"id", "type"} {
			var s string
			if err := json.Unmarshal(o[k], &s); err != nil || s == "" {
				return nil, fmt.Errorf("object %d has no %s", i, k)
			}
		}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (a *API) postLibraryEntry(w http.ResponseWriter, r *http.Request) {
	name, ok := libraryNameOf(w, r)
	if !ok {
		return
	}
	if r.ContentLength > maxLibraryEntry {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a library entry is at most %d KiB", maxLibraryEntry>>10), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLibraryEntry))
	if err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, "read body: "+err.Error(), nil)
		return
	}
	flow, err := checkLibraryFlow(body)
	if err != nil {
		writeAuthError(w, http.StatusBadRequest, "invalid_flows", err.Error())
		return
	}
	libMu.Lock()
	defer libMu.Unlock()
	root, ok := a.libraryRoot(w, true)
	if !ok {
		return
	}
	defer root.Close()
	file := name + ".json"
	if _, err := root.Stat(file); errors.Is(err, fs.ErrNotExist) {
		ents, err := libraryEntries(root)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "library: "+err.Error(), nil)
			return
		}
		if len(ents) >= maxLibraryEntries {
			writeAuthError(w, http.StatusInsufficientStorage, "library_full", fmt.Sprintf("the library holds at most %d entries: delete some first", maxLibraryEntries))
			return
		}
	}
	// Write a temporary file and rename it over the entry, so that a
	// reader never sees half an entry.
	tmp := fmt.Sprintf(".%s.%d.tmp", name, time.Now().UnixNano())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.Write(flow)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = root.Rename(tmp, file)
		}
		if err != nil {
			root.Remove(tmp)
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "library: "+err.Error(), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) deleteLibraryEntry(w http.ResponseWriter, r *http.Request) {
	name, ok := libraryNameOf(w, r)
	if !ok {
		return
	}
	libMu.Lock()
	defer libMu.Unlock()
	root, ok := a.libraryRoot(w, false)
	if !ok {
		return
	}
	if root == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no library entry %q", name), nil)
		return
	}
	defer root.Close()
	if err := root.Remove(name + ".json"); err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no library entry %q", name), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
