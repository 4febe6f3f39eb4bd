package image

// WriteDirTar is writeDirTar for the external tests.
var WriteDirTar = writeDirTar
