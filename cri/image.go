package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/podbox/podbox/image"
)

// canonicalName writes an image reference as the kubelet and containerd
// do: with its registry (docker.io by default, library/ for a one-part
// docker.io name) and a tag (latest by default) unless it has a digest.
func canonicalName(ref string) (string, error) {
	n, err := image.NormalizeName(ref)
	if err != nil {
		return "", err
	}
	repo, tag, digest := image.SplitName(n)
	host, rest, ok := strings.Cut(repo, "/")
	if !ok || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		host, rest = "docker.io", repo
	}
	if host == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	if digest != "" {
		return host + "/" + rest + "@" + digest, nil
	}
	return host + "/" + rest + ":" + tag, nil
}

// isImageID: ref names an image by its ID ("sha256:HEX", or the bare HEX
// or a prefix of at least 12 digits of it).
func isImageID(ref string) (string, bool) {
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) < 12 || len(hex) > 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", false
	}
	return hex, true
}

// lookupImage finds an image by name (canonical or not), by ID, or by
// repo@digest; nil when the store has none.
func (s *Server) lookupImage(ref string) (*image.Image, error) {
	if ref == "" {
		return nil, invalid("image reference is required")
	}
	if hex, ok := isImageID(ref); ok {
		imgs, err := s.images.List()
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), hex) {
				return img, nil
			}
		}
		if strings.HasPrefix(ref, "sha256:") {
			return nil, nil
		}
	}
	name, err := canonicalName(ref)
	if err != nil {
		return nil, err
	}
	img, err := s.images.Get(name)
	if errors.Is(err, image.ErrNotFound) {
		img, err = s.images.Get(ref)
	}
	if err == nil {
		return img, nil
	}
	if !errors.Is(err, image.ErrNotFound) {
		return nil, err
	}
	// repo@digest: any name of the image pulled with that manifest digest.
	if repo, digest, ok := strings.Cut(name, "@"); ok {
		imgs, err := s.images.List()
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			r, _, _ := image.SplitName(img.Name)
			if img.Digest == digest && (img.Repo == repo || r == repo) {
				return img, nil
			}
		}
	}
	return nil, nil
}

// sameID lists every image record of the image with that ID (its names).
func (s *Server) sameID(id string) ([]*image.Image, error) {
	imgs, err := s.images.List()
	if err != nil {
		return nil, err
	}
	var out []*image.Image
	for _, img := range imgs {
		if img.ID == id {
			out = append(out, img)
		}
	}
	return out, nil
}

// apiImage is the CRI's view of an image: its ID with all its names.
func apiImage(id string, names []*image.Image) *runtimeapi.Image {
	out := &runtimeapi.Image{Id: id, Spec: &runtimeapi.ImageSpec{Image: id}}
	seen := map[string]bool{}
	for _, img := range names {
		repo, tag, _ := image.SplitName(img.Name)
		if tag != "" && !seen[img.Name] {
			out.RepoTags = append(out.RepoTags, img.Name)
			seen[img.Name] = true
		}
		if img.Digest != "" {
			if img.Repo != "" {
				repo = img.Repo
			}
			if d := repo + "@" + img.Digest; !seen[d] {
				out.RepoDigests = append(out.RepoDigests, d)
				seen[d] = true
			}
		}
		out.Size = uint64(max(img.Size, 0))
		if u := img.Config.User; u != "" {
			user, _, _ := strings.Cut(u, ":")
			if n, err := strconv.ParseInt(user, 10, 64); err == nil {
				out.Uid = &runtimeapi.Int64Value{Value: n}
			} else {
				out.Username = user
			}
		}
	}
	sort.Strings(out.RepoTags)
	sort.Strings(out.RepoDigests)
	return out
}

// ListImages lists the store's images, one entry per image ID.
func (s *Server) ListImages(ctx context.Context, req *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	imgs, err := s.images.List()
	if err != nil {
		return nil, grpcError(err)
	}
	byID := map[string][]*image.Image{}
	var ids []string
	for _, img := range imgs {
		if byID[img.ID] == nil {
			ids = append(ids, img.ID)
		}
		byID[img.ID] = append(byID[img.ID], img)
	}
	resp := &runtimeapi.ListImagesResponse{}
	want := req.GetFilter().GetImage().GetImage()
	var only string
	if want != "" {
		img, err := s.lookupImage(want)
		if err != nil {
			return nil, grpcError(err)
		}
		if img == nil {
			return resp, nil
		}
		only = img.ID
	}
	for _, id := range ids {
		if only != "" && id != only {
			continue
		}
		resp.Images = append(resp.Images, apiImage(id, byID[id]))
	}
	return resp, nil
}

// ImageStatus reports an image; a missing one is an empty answer, not an
// error, as the kubelet expects.
func (s *Server) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	img, err := s.lookupImage(req.GetImage().GetImage())
	if err != nil {
		return nil, grpcError(err)
	}
	if img == nil {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	names, err := s.sameID(img.ID)
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &runtimeapi.ImageStatusResponse{Image: apiImage(img.ID, names)}
	if req.Verbose {
		info, _ := json.Marshal(map[string]any{"config": img.Config, "layers": img.Layers, "created": img.Created})
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

// PullImage pulls an image into the store, through the configured mirrors,
// with the request's credentials when it has some; it answers the image's
// ID.
func (s *Server) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	ref := req.GetImage().GetImage()
	if ref == "" {
		return nil, invalid("image reference is required")
	}
	name, err := canonicalName(ref)
	if err != nil {
		return nil, grpcError(err)
	}
	opts := image.PullOptions{Registries: s.cfg.Registries}
	if a := req.Auth; a != nil {
		// The kubelet's credentials for the image's registry (its
		// mirrors get none), tried before the node's.
		opts.Auth = []image.AuthConfig{{
			Username: a.Username, Password: a.Password, Auth: a.Auth,
			IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken, Source: "the PullImage request",
		}}
	}
	img, err := s.images.Pull(ctx, name, opts)
	if err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.PullImageResponse{ImageRef: img.ID}, nil
}

// RemoveImage removes an image, every name of it when given by ID; its
// layers stay while a container uses them. A missing image is no error.
func (s *Server) RemoveImage(ctx context.Context, req *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	img, err := s.lookupImage(req.GetImage().GetImage())
	if err != nil {
		return nil, grpcError(err)
	}
	if img == nil {
		return &runtimeapi.RemoveImageResponse{}, nil
	}
	names, err := s.sameID(img.ID)
	if err != nil {
		return nil, grpcError(err)
	}
	for _, n := range names {
		if err := s.images.Untag(n.Name); err != nil && !errors.Is(err, image.ErrNotFound) {
			return nil, grpcError(fmt.Errorf("remove image %s: %w", img.ID, err))
		}
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

// ImageFsInfo reports the filesystem of the image store.
func (s *Server) ImageFsInfo(ctx context.Context, req *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	imgs, err := s.images.List()
	if err != nil {
		return nil, grpcError(err)
	}
	var used uint64
	seen := map[string]bool{}
	for _, img := range imgs {
		if !seen[img.ID] {
			used += uint64(max(img.Size, 0))
			seen[img.ID] = true
		}
	}
	fs := &runtimeapi.FilesystemUsage{
		Timestamp:  nowNanos(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: s.images.Root()},
		UsedBytes:  &runtimeapi.UInt64Value{Value: used},
		InodesUsed: &runtimeapi.UInt64Value{Value: inodesUnder(s.images.Root())},
	}
	return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{fs}}, nil
}
