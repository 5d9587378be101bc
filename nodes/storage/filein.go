package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/engine"
)

// FileInConfig is the configuration of a file in node. The property names
// are Node-RED's.
type FileInConfig struct {
	Filename     string `json:"filename" label:"Filename" typeprop:"filenameType" types:"str,msg,flow,global,env,jsonata" help:"Relative to the files directory, or an absolute path under it"`
	FilenameType string `json:"filenameType" label:"Filename type" kind:"hidden"`
	Format       string `json:"format" label:"Output" default:"utf8" keepempty:"true" options:"utf8=a single utf8 string,lines=a msg per line,stream=a msg per chunk (Buffer),=a single Buffer object"`
	Chunk        bool   `json:"chunk" label:"Chunk" kind:"hidden"`
	SendError    bool   `json:"sendError" label:"Send message on error" default:"true" help:"Also send the message on, with msg.error and without payload"`
	Encoding     string `json:"encoding" label:"Encoding" default:"none" options:"none=default (UTF-8),utf8=UTF-8,ascii=ASCII,latin1=Latin-1,base64=Base64,hex=Hexadecimal,utf16le=UTF-16LE" other:"another character set" help:"Another character set by its WHATWG name, such as windows-1252"`
	AllProps     bool   `json:"allProps" label:"Send all properties" help:"lines and stream: each message is a copy of the incoming one"`
}

// Bounds of the file in node.
const (
	// maxWholeFile is the largest file read whole (utf8 and buffer).
	maxWholeFile = 256 << 20
	// maxLine is the longest line read by lines.
	maxLine = 16 << 20
	// chunkSize is the size of a stream chunk, Node's highWaterMark.
	chunkSize = 64 << 10
)

type fileInNode struct {
	h         *engine.Host
	name      engine.Typed
	format    string
	sendError bool
	allProps  bool
	codec     codec
	sb        *sandbox
}

func newFileIn(cfg *FileInConfig, h *engine.Host) (engine.Node, error) {
	t, _, err := filenameTyped(cfg.Filename, cfg.FilenameType)
	if err != nil {
		return nil, err
	}
	n := &fileInNode{h: h, name: t, format: cfg.Format, allProps: cfg.AllProps, sb: newSandbox(h), sendError: cfg.SendError}
	switch n.format {
	case "utf8", "lines", "stream", "":
	default:
		return nil, engine.ErrFieldf("format", "%q is not utf8, lines, stream or empty", cfg.Format)
	}
	if n.codec, err = newCodec(cfg.Encoding); err != nil {
		return nil, engine.ErrField("encoding", err)
	}
	return n, nil
}

// Close releases the files directory.
func (n *fileInNode) Close(context.Context) error {
	n.sb.close()
	return nil
}

// Receive reads the file, following Node-RED's 10-file.js.
func (n *fileInNode) Receive(ctx context.Context, m *engine.Message, out engine.Output) error {
	name, err := evalFilename(n.name, n.h, m)
	if err != nil {
		return err
	}
	name = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(name)
	if name == "" {
		n.h.Logger().Warn("No filename specified")
		return nil
	}
	m.SetProp("filename", name)
	if err := n.read(ctx, m, name, out); err != nil {
		if n.sendError {
			em := m.Copy()
			em.DeleteProp("payload")
			e := map[string]any{"message": err.Error()}
			if errors.Is(err, fs.ErrNotExist) {
				e["code"] = "ENOENT"
			} else if errors.Is(err, fs.ErrPermission) {
				e["code"] = "EACCES"
			}
			em.SetProp("error", e)
			n.h.Error(err, m)
			out.Send(0, em)
			return nil
		}
		return err
	}
	return nil
}

func (n *fileInNode) read(ctx context.Context, m *engine.Message, name string, out engine.Output) error {
	root, rel, err := n.sb.rel(name)
	if err != nil {
		return err
	}
	f, err := root.Open(rel)
	if err != nil {
		return n.sb.wrap(name, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("EISDIR: illegal operation on a directory, read %s", name)
	}
	topic, filename := m.Topic, name
	id := m.ID()
	// parts in Node-RED's key order: index, [count,] ch, type, id [, count]
	partsJSON := func(index, count int, countFirst bool, ch, typ string) engine.RawJSON {
		b := []byte(`{"index":`)
		b = strconv.AppendInt(b, int64(index), 10)
		if count >= 0 && countFirst {
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, int64(count), 10)
		}
		b = append(b, `,"ch":`...)
		b = engine.AppendJSONString(b, ch)
		b = append(b, `,"type":"`+typ+`","id":`...)
		b = engine.AppendJSONString(b, id)
		if count >= 0 && !countFirst {
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, int64(count), 10)
		}
		return engine.RawJSON(append(b, '}'))
	}
	part := func(payload any, parts engine.RawJSON) *engine.Message {
		var pm *engine.Message
		if n.allProps {
			pm = m.Copy()
		} else {
			pm = engine.NewMessage(topic, nil)
			pm.SetProp("filename", filename)
		}
		if payload != nil {
			pm.Payload = payload
		}
		pm.SetProp("parts", parts)
		return pm
	}
	switch n.format {
	case "utf8", "":
		b, err := io.ReadAll(io.LimitReader(f, maxWholeFile+1))
		if err != nil {
			return err
		}
		if len(b) > maxWholeFile {
			return fmt.Errorf("%s is larger than %d MiB: read it by lines or as a stream", name, maxWholeFile>>20)
		}
		if n.format == "utf8" {
			m.Payload = n.codec.decode(b)
		} else {
			m.Payload = b
		}
		out.Send(0, m)
	case "lines":
		r := bufio.NewReaderSize(f, chunkSize)
		var line []byte
		index := 0
		for {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			frag, err := r.ReadSlice('\n')
			line = append(line, frag...)
			if len(line) > maxLine {
				return fmt.Errorf("%s: a line longer than %d MiB", name, maxLine>>20)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && err != io.EOF {
				return err
			}
			if err == io.EOF {
				out.Send(0, part(n.codec.decode(line), partsJSON(index, index+1, true, "\n", "string")))
				return nil
			}
			out.Send(0, part(n.codec.decode(line[:len(line)-1]), partsJSON(index, -1, false, "\n", "string")))
			index++
			line = line[:0]
			if cap(line) > chunkSize*4 {
				line = nil // do not keep one long line's buffer
			}
		}
	case "stream":
		index := 0
		sent := false
		for {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			buf := make([]byte, chunkSize)
			k, err := io.ReadFull(f, buf)
			if k > 0 {
				count := -1
				if k < chunkSize {
					count = index + 1
				}
				out.Send(0, part(buf[:k:k], partsJSON(index, count, false, "", "buffer")))
				index++
				sent = true
				if k < chunkSize {
					return nil
				}
			}
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				if sent { // the last chunk was full: an empty closing message, as Node-RED sends
					em := engine.NewMessage("", nil)
					em.SetProp("parts", partsJSON(index, index, true, "", "buffer"))
					out.Send(0, em)
				}
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
