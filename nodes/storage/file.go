package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/runnel-io/runnel/engine"
)

// FileConfig is the configuration of a file node (write). The property
// names are Node-RED's.
type FileConfig struct {
	Filename      string `json:"filename" label:"Filename" typeprop:"filenameType" types:"str,msg,flow,global,env,jsonata" help:"Relative to the files directory, or an absolute path under it"`
	FilenameType  string `json:"filenameType" label:"Filename type" kind:"hidden"`
	OverwriteFile string `json:"overwriteFile" label:"Action" default:"false" options:"false=append to file,true=overwrite file,delete=delete file"`
	AppendNewline bool   `json:"appendNewline" label:"Add newline (\\n) to each payload" default:"true"`
	CreateDir     bool   `json:"createDir" label:"Create directory if it doesn't exist"`
	Encoding      string `json:"encoding" label:"Encoding" default:"none" options:"none=default (UTF-8),utf8=UTF-8,ascii=ASCII,latin1=Latin-1,base64=Base64,hex=Hexadecimal,utf16le=UTF-16LE,setbymsg=set by msg.encoding" other:"another character set" help:"Another character set by its WHATWG name, such as windows-1252"`
}

// FileType is the file node type.
var FileType = engine.NewType(engine.Meta{
	Type:     "file",
	Category: "storage",
	Inputs:   1,
	Outputs:  1,
	Color:    "BurlyWood",
	Icon:     "file-out.svg",
	Help: `Writes msg.payload to a file, appending (the default) or overwriting, or deletes the file, as Node-RED's **file** node does. The message is sent on once the file is written, with msg.filename set.

- **Filename**: a fixed name, or taken from msg.filename (or another property, context, an environment variable, JSONata).
- An object is written as JSON, numbers and booleans as text, a buffer as its bytes. *Add newline* ends each payload (not a buffer, nor the last part of a string sequence) with \n.
- *Create directory* makes the missing directories first.
- *Encoding* converts text to the file's character set.

**Restricted to the files directory.** Unlike Node-RED, the node can only write under one directory: the data directory, or the [files] dir setting in runnel.toml (RUNNEL_FILES_DIR; "/" lifts the restriction). A relative filename is taken from that directory (Node-RED takes it from its working directory); an absolute one, or one that leads out through ".." or a symbolic link, is an error against the message. Symbolic links inside the directory may not be absolute.`,
}, newFile)

// FileInType is the file in node type. Runnel's name is file-in; flows
// from Node-RED name it "file in".
var FileInType = engine.NewType(engine.Meta{
	Type:     "file-in",
	Category: "storage",
	Inputs:   1,
	Outputs:  1,
	Color:    "BurlyWood",
	Icon:     "file-in.svg",
	Help: `Reads a file, as Node-RED's **file in** node does: whole as a UTF-8 string ("utf8") or a buffer (""), one message per line ("lines", with msg.parts), or in 64 KiB buffers ("stream", with msg.parts). msg.filename is set.

- A file that cannot be read is an error against the message; with *Send message on error*, the message is also sent on without its payload and with msg.error ({message, code}).
- *Encoding* decodes text from the file's character set.
- With *Send all properties* each line or chunk carries a copy of the incoming message; otherwise only topic and filename.

**Restricted to the files directory**, as the file node is (see its help): the data directory, or the [files] dir setting (RUNNEL_FILES_DIR).

Bounds: "utf8" and "" read at most 256 MiB (a larger file is an error: read it by "lines" or "stream"); "lines" reads a line of at most 16 MiB, so a file of any size is read line by line in bounded memory. Runnel decodes each line whole, so a multi-byte character across Node's 64 KiB read boundary is not broken as in Node-RED.`,
}, newFileIn)

func init() {
	engine.Register(FileType)
	engine.Register(FileInType)
}

// filenameTyped builds the filename's typed value as Node-RED does: with
// no type, an empty name means msg.filename and any other a fixed name.
func filenameTyped(name, typ string) (engine.Typed, bool, error) {
	if typ == "" {
		if name == "" {
			name, typ = "filename", engine.TypeMsg
		} else {
			typ = engine.TypeStr
		}
	}
	t, err := engine.ParseTyped(typ, name)
	if err != nil {
		return t, false, engine.ErrField("filename", err)
	}
	return t, typ == engine.TypeStr && name == "", nil
}

// evalFilename is the filename for a message: text, as String(value).
func evalFilename(t engine.Typed, h *engine.Host, m *engine.Message) (string, error) {
	v, err := t.Eval(h, m)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	return engine.ToString(v), nil
}

type fileNode struct {
	h        *engine.Host
	name     engine.Typed
	action   string
	newline  bool
	mkdir    bool
	codec    codec
	bymsg    bool
	sb       *sandbox
	mu       sync.Mutex // one write at a time, in order, as Node-RED queues them
	logEmpty bool
}

func newFile(cfg *FileConfig, h *engine.Host) (engine.Node, error) {
	t, _, err := filenameTyped(cfg.Filename, cfg.FilenameType)
	if err != nil {
		return nil, err
	}
	n := &fileNode{h: h, name: t, action: cfg.OverwriteFile, newline: cfg.AppendNewline, mkdir: cfg.CreateDir, sb: newSandbox(h)}
	switch n.action {
	case "true", "false", "delete":
	default:
		return nil, engine.ErrFieldf("overwriteFile", "%q is not true, false or delete", cfg.OverwriteFile)
	}
	if cfg.Encoding == "setbymsg" {
		n.bymsg = true
	} else if n.codec, err = newCodec(cfg.Encoding); err != nil {
		return nil, engine.ErrField("encoding", err)
	}
	return n, nil
}

// Close releases the files directory.
func (n *fileNode) Close(context.Context) error {
	n.sb.close()
	return nil
}

// Receive writes, appends or deletes, following Node-RED's 10-file.js.
func (n *fileNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	name, err := evalFilename(n.name, n.h, m)
	if err != nil {
		return err
	}
	m.SetProp("filename", name)
	if name == "" {
		n.h.Logger().Warn("No filename specified")
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	root, rel, err := n.sb.rel(name)
	if err != nil {
		return err
	}
	if n.action == "delete" {
		if err := root.Remove(rel); err != nil {
			return fmt.Errorf("failed to delete file: %w", n.sb.wrap(name, err))
		}
		out.Send(0, m)
		return nil
	}
	payload, ok := m.Lookup(engine.MustParsePath("payload"))
	if !ok {
		return nil
	}
	if n.mkdir {
		if d := filepath.Dir(rel); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("failed to create file: %w", n.sb.wrap(name, err))
			}
		}
	}
	data, err := n.bytes(m, payload)
	if err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	verb := "append to"
	if n.action == "true" {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		verb = "write to"
	}
	f, err := root.OpenFile(rel, flags, 0o644)
	if err != nil {
		return fmt.Errorf("failed to %s file: %w", verb, n.sb.wrap(name, err))
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("failed to %s file: %w", verb, err)
	}
	out.Send(0, m)
	return nil
}

// bytes is what Node-RED writes for a payload: a buffer as it is, an
// object as JSON, other values as text, with a newline unless this is the
// last part of a string sequence, encoded.
func (n *fileNode) bytes(m *engine.Message, payload any) ([]byte, error) {
	if b, ok := payload.([]byte); ok {
		return b, nil
	}
	var s string
	switch x := payload.(type) {
	case string:
		s = x
	case nil:
		s = "null"
	default:
		s = engine.ToString(x)
	}
	if n.newline && !lastStringPart(m) {
		s += "\n"
	}
	c := n.codec
	if n.bymsg {
		enc, _ := m.Prop("encoding")
		es, _ := enc.(string)
		var err error
		if c, err = newCodec(es); err != nil {
			return nil, err
		}
	}
	return c.encode(s), nil
}

// lastStringPart reports msg.parts.type === "string" and
// msg.parts.count === msg.parts.index + 1.
func lastStringPart(m *engine.Message) bool {
	if _, ok := m.Prop("parts"); !ok {
		return false
	}
	typ, _ := m.Get(engine.MustParsePath("parts.type"))
	if typ != "string" {
		return false
	}
	c, _ := m.Get(engine.MustParsePath("parts.count"))
	i, _ := m.Get(engine.MustParsePath("parts.index"))
	cf, ok1 := engine.Number(c)
	fi, ok2 := engine.Number(i)
	return ok1 && ok2 && cf == fi+1
}
