package engine

// FilesDir returns the directory that nodes reading and writing files
// (file, file in, watch) are confined to, as Options.FilesDir gives it:
// every path they use must resolve, after "..", and symbolic links, to a
// file under it. Empty means they may use no file at all.
func (h *Host) FilesDir() string { return h.rt.opts.FilesDir }
