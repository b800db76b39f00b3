package engine

// Naming what a non-registry source holds (docker-archive RepoTags,
// oci-archive annotations, oci layout refs, the daemon's names, by ID
// otherwise), and the errors of a source that holds several images or none
// that was asked.

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	pullerrors "github.com/pullengine/pullengine/errors"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
)

// source is a non-registry source opened for one pull.
type source struct {
	// ref is what to copy from: the reference given, or one bound to an
	// already opened reader (docker-archive), so the archive is read once.
	ref types.ImageReference
	// names are the names the image is stored under, normalized; none
	// means "by ID".
	names []string
	// close releases what opening took (the docker-archive reader and
	// its decompressed copy).
	close func()
}

// openSource applies the naming rules of non-registry sources (README
// "Behaviour": what the source says, normalized, else by ID) to a
// transport reference.
// Errors are classified here, where it is known what failed: a missing
// archive is NotFound, an archive or layout holding several images with
// none chosen is InvalidReference and lists what it holds.
//
// maxExtract bounds the bytes an oci-archive's extraction may write (zero:
// no bound): see checkOCIArchive.
func openSource(sys *types.SystemContext, ref types.ImageReference, maxExtract int64) (*source, error) {
	src := &source{ref: ref, close: func() {}}
	var err error
	switch ref.Transport().Name() {
	case "docker-archive":
		return openDockerArchive(sys, ref)
	case "oci-archive":
		src.names, err = ociArchiveNames(sys, ref, maxExtract)
	case "oci":
		src.names, err = ociLayoutNames(ref)
	case "docker-daemon":
		// Normalized to docker.io, as Podman does (podman#10998): the
		// daemon's "alpine" is Docker Hub's. An image ID reference
		// (docker-daemon:sha256:<hex>) has no name: stored by ID.
		if named := ref.DockerReference(); named != nil {
			src.names = []string{reference.TagNameOnly(named).String()}
		}
	case "containers-storage":
		// Store to store: the name it has there.
		if named := ref.DockerReference(); named != nil {
			src.names = []string{named.String()}
		}
	default:
		// dir:, sif:, tarball: and other paths may hold characters that
		// are invalid in names (dir:/tmp/Capital!@Dir): stored by ID.
	}
	if err != nil {
		return nil, err
	}
	return src, nil
}

// openDockerArchive opens the archive once for naming and copying: a
// compressed archive is decompressed to a temporary file on every open.
// The names are the chosen item's RepoTags (one RepoTag when chosen by
// :name), normalized; an item without RepoTags is stored by ID.
func openDockerArchive(sys *types.SystemContext, ref types.ImageReference) (*source, error) {
	reader, readerRef, err := dockerarchive.NewReaderForReference(sys, ref)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, pullerrors.Wrap(pullerrors.NotFound, err)
		}
		return nil, err
	}
	src := &source{ref: readerRef, close: func() { _ = reader.Close() }}
	tags, err := reader.ManifestTagsForReference(readerRef)
	if err != nil {
		err = dockerArchiveChoiceError(reader, ref, err)
		src.close()
		return nil, err
	}
	for _, tag := range tags {
		named, err := normalizeName(tag)
		if err != nil {
			src.close()
			return nil, fmt.Errorf("RepoTag %q in the archive: %w", tag, pullerrors.Wrap(pullerrors.InvalidReference, err))
		}
		src.names = append(src.names, named.String())
	}
	return src, nil
}

// dockerArchiveChoiceError explains why no single image was chosen in a
// docker-archive, listing the images it holds and how to choose one.
// Without a choice, an archive of several images is ambiguous
// (InvalidReference); a choice that matches nothing is NotFound.
func dockerArchiveChoiceError(reader *dockerarchive.Reader, ref types.ImageReference, cause error) error {
	path, choice, chosen := strings.Cut(ref.StringWithinTransport(), ":")
	var held []string
	if list, err := reader.List(); err == nil {
		for i, refs := range list {
			var names []string
			for _, r := range refs {
				if named := r.DockerReference(); named != nil {
					names = append(names, reference.FamiliarString(named))
				}
			}
			if len(names) == 0 {
				names = []string{"unnamed"}
			}
			held = append(held, fmt.Sprintf("@%d %s", i, strings.Join(names, ", ")))
		}
	}
	if !chosen {
		if len(held) < 2 {
			return cause
		}
		return pullerrors.Errorf(pullerrors.InvalidReference,
			"the archive holds %d images (%s); choose one with docker-archive:%s:@N or docker-archive:%s:NAME:TAG: %w",
			len(held), strings.Join(held, "; "), path, path, cause)
	}
	return pullerrors.Errorf(pullerrors.NotFound, "the archive has no image %s; it holds %s: %w", choice, strings.Join(held, "; "), cause)
}

// ociArchiveNames is the name in the chosen index entry's annotations:
// containerd's (BuildKit's full name) if set, else the OCI ref name. An
// invalid name is an error, not a reason to store by ID: the archive says
// what it wants to be called, and a typo there should be seen.
func ociArchiveNames(sys *types.SystemContext, ref types.ImageReference, maxExtract int64) ([]string, error) {
	if err := checkOCIArchive(sourcePath(ref), maxExtract); err != nil {
		return nil, err
	}
	desc, err := ociarchive.LoadManifestDescriptorWithContext(sys, ref)
	if err != nil {
		return nil, ociChoiceError(ref, err)
	}
	name := desc.Annotations[annotationContainerdName]
	if name == "" {
		name = desc.Annotations[annotationRefName]
	}
	if name == "" {
		return nil, nil
	}
	named, err := normalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("the archive's name annotation: %w", pullerrors.Wrap(pullerrors.InvalidReference, err))
	}
	return []string{named.String()}, nil
}

// ociLayoutNames applies the oci: rule: "dir:ref" is stored under ref
// when ref is a name, normalized like an oci-archive name (Podman stores
// oci:dir:pretty as docker.io/library/pretty; we store local sources under
// localhost/ like every other). A ref with neither "/" nor ":" ("v1.0",
// "latest") is what OCI layouts usually hold in ref.name: a tag, not a
// name, so the image is stored by ID; so is "dir:@N" and a bare "dir".
//
// The layout's index is read first (cheap: one small file) so that a
// missing, ambiguous or unmatched choice is reported before any copy.
func ociLayoutNames(ref types.ImageReference) ([]string, error) {
	if _, err := ocilayout.LoadManifestDescriptor(ref); err != nil {
		return nil, ociChoiceError(ref, err)
	}
	_, choice, _ := strings.Cut(ref.StringWithinTransport(), ":")
	if choice == "" || !strings.ContainsAny(choice, "/:") {
		return nil, nil
	}
	named, err := normalizeName(choice)
	if err != nil {
		return nil, nil // not a name (e.g. "@1"): by ID
	}
	return []string{named.String()}, nil
}

// ociChoiceError classifies c/image's errors for an OCI layout or archive
// whose index does not give one image: the file or layout is missing
// (NotFound), it holds several images and none was chosen
// (InvalidReference, "more than one image in oci, choose an image"), or
// none has the ref name asked (NotFound). The last two list what the index
// holds, which c/image's messages do not.
func ociChoiceError(ref types.ImageReference, err error) error {
	var archiveMissing ociarchive.ArchiveFileNotFoundError
	var layoutNoImage ocilayout.ImageNotFoundError
	var archiveNoImage ociarchive.ImageNotFoundError
	switch {
	case errors.As(err, &archiveMissing):
		// c/image says "creating temp directory: archive file not found":
		// only the second half is true.
		return pullerrors.Wrap(pullerrors.NotFound, archiveMissing)
	case errors.Is(err, os.ErrNotExist):
		return pullerrors.Wrap(pullerrors.NotFound, err)
	case errors.Is(err, ocilayout.ErrMoreThanOneImage):
		how := fmt.Sprintf("%s:%s:REF", ref.Transport().Name(), sourcePath(ref))
		if ref.Transport().Name() == "oci" {
			how += " or " + fmt.Sprintf("oci:%s:@N", sourcePath(ref))
		}
		return pullerrors.Errorf(pullerrors.InvalidReference, "the index holds several images (%s); choose one with %s: %w", heldImages(ref), how, err)
	case errors.As(err, &layoutNoImage), errors.As(err, &archiveNoImage):
		return pullerrors.Errorf(pullerrors.NotFound, "the index holds %s: %w", heldImages(ref), err)
	}
	return err
}

// heldImages describes the entries of ref's index.json ("@0 1.0; @1
// example.com/app:2"), or "?" when it cannot be read.
func heldImages(ref types.ImageReference) string {
	var index imgspecv1.Index
	var err error
	if ref.Transport().Name() == "oci-archive" {
		index, err = archiveIndex(sourcePath(ref))
	} else {
		var b []byte
		if b, err = os.ReadFile(filepath.Join(sourcePath(ref), "index.json")); err == nil {
			err = json.Unmarshal(b, &index)
		}
	}
	if err != nil {
		return "?"
	}
	held := make([]string, len(index.Manifests))
	for i, d := range index.Manifests {
		name := d.Annotations[annotationRefName]
		if name == "" {
			name = "unnamed"
		}
		if full := d.Annotations[annotationContainerdName]; full != "" {
			name += " (" + full + ")"
		}
		held[i] = fmt.Sprintf("@%d %s", i, name)
	}
	return strings.Join(held, "; ")
}

// sourcePath is the path part of a "path[:choice]" reference (oci:,
// oci-archive:, docker-archive: all split at the first colon on Linux).
func sourcePath(ref types.ImageReference) string {
	p, _, _ := strings.Cut(ref.StringWithinTransport(), ":")
	return p
}

// archiveIndex reads index.json out of an oci-archive without extracting
// it (c/image extracts the whole archive to read it).
func archiveIndex(archivePath string) (imgspecv1.Index, error) {
	var index imgspecv1.Index
	found := false
	err := walkArchive(archivePath, func(h *tar.Header, body io.Reader) (bool, error) {
		if path.Clean(h.Name) != "index.json" {
			return false, nil
		}
		found = true
		return true, json.NewDecoder(io.LimitReader(body, 4<<20)).Decode(&index)
	})
	if err == nil && !found {
		err = os.ErrNotExist
	}
	return index, err
}

// checkOCIArchive refuses an oci-archive that c/image could not extract
// safely. c/image untars the archive into a temporary directory, outside
// any chroot, and its extractor checks names only lexically: a symlink
// entry "x -> /etc" followed by a file "x/y" writes /etc/y (as root,
// anywhere). An OCI layout holds only directories and regular files with
// relative names, so anything else (links, devices, absolute or ".."
// names) is refused before the extraction, with the entry named. A missing,
// unreadable or corrupt file is left for c/image to report.
//
// The extraction is not bounded either: with maxExtract > 0, an archive
// whose entries add up to more (a sparse file, a gzip bomb) is refused
// before it fills the temporary directory.
//
// The archive is read twice (here, and by the extraction): a sequential
// read, cheap beside the extraction and the copy.
func checkOCIArchive(archivePath string, maxExtract int64) error {
	var refusal error
	var total int64
	_ = walkArchive(archivePath, func(h *tar.Header, _ io.Reader) (bool, error) {
		refusal = refuseEntry(h)
		if total += max(h.Size, 0); refusal == nil && maxExtract > 0 && total > maxExtract {
			refusal = limitError("the oci-archive's entries unpack to more than the limit of %d bytes", maxExtract)
		}
		return refusal != nil, nil
	})
	return refusal
}

// refuseEntry is why an oci-archive's entry h cannot be extracted safely,
// or nil.
func refuseEntry(h *tar.Header) error {
	name := path.Clean(h.Name)
	switch {
	case h.Typeflag == tar.TypeXGlobalHeader:
		return nil
	case path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../"):
		return pullerrors.Errorf(pullerrors.InvalidArgument, "refusing the oci-archive: entry %q is outside the archive", h.Name)
	case h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir:
		what := "a symlink"
		if h.Typeflag != tar.TypeSymlink {
			what = fmt.Sprintf("of tar type %q", h.Typeflag)
		}
		return pullerrors.Errorf(pullerrors.InvalidArgument, "refusing the oci-archive: entry %q is %s (an OCI layout holds only files and directories, and extracting a link could write outside the extraction directory)", h.Name, what)
	}
	return nil
}

// walkArchive reads the tar archive at archivePath (compressed or not) and
// calls visit for each entry in order, until visit reports done or fails.
// It returns visit's error, or the archive's (nil at its end).
func walkArchive(archivePath string, visit func(h *tar.Header, body io.Reader) (done bool, err error)) error {
	f, err := os.Open(archivePath)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if done, err := visit(h, tr); done || err != nil {
			return err
		}
	}
}
