package dataset

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"gorgonia.org/tensor"
)

// MaxImageBytes bounds the size of one image file.
const MaxImageBytes = 1 << 28

// ImageFolder is a folder of images as torchvision's ImageFolder reads it:
// root/<class>/…/<file>.png|.jpg|.jpeg, classes sorted by name and numbered
// from 0. A folder with images and no sub-folders is unlabeled. Images are
// decoded and preprocessed per batch.
type ImageFolder struct {
	root    string
	input   string
	pre     Preprocess
	files   []string
	labels  []int64 // nil when unlabeled
	classes []string
}

// Classes are the class folder names, index = label (nil when unlabeled).
func (d *ImageFolder) Classes() []string { return d.classes }

// Files are the image paths, index = sample.
func (d *ImageFolder) Files() []string { return d.files }

// Len implements Dataset.
func (d *ImageFolder) Len() int { return len(d.files) }

// Inputs implements Dataset.
func (d *ImageFolder) Inputs() []string { return []string{d.input} }

// HasLabels implements Dataset.
func (d *ImageFolder) HasLabels() bool { return d.labels != nil }

// Close implements Dataset.
func (d *ImageFolder) Close() error { return nil }

func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

func openImageFolder(root string, c *config) (Dataset, error) {
	d := &ImageFolder{root: root, input: "input", pre: Preprocess{}}
	if c.inputName != "" {
		d.input = c.inputName
	}
	if c.pre != nil {
		d.pre = *c.pre
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var flat []string
	for _, e := range ents {
		switch {
		case e.IsDir():
			d.classes = append(d.classes, e.Name())
		case isImage(e.Name()) && regularFile(filepath.Join(root, e.Name()), e):
			flat = append(flat, filepath.Join(root, e.Name()))
		}
	}
	if len(d.classes) == 0 {
		if len(flat) == 0 {
			return nil, fmt.Errorf("%w: %s: no class folders and no .png/.jpg images", ErrMalformed, root)
		}
		d.files = flat // sorted by ReadDir
		return d, nil
	}
	slices.Sort(d.classes)
	for label, cls := range d.classes {
		n := 0
		err := filepath.WalkDir(filepath.Join(root, cls), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if isImage(e.Name()) && regularFile(path, e) {
				d.files = append(d.files, path)
				d.labels = append(d.labels, int64(label))
				n++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: %s: class folder %q holds no .png/.jpg image", ErrMalformed, root, cls)
		}
	}
	return d, nil
}

// DecodeImage decodes a PNG or JPEG from r after checking its header: at
// most MaxPixels pixels.
func DecodeImage(data []byte, name string) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not a PNG or JPEG image: %v", ErrMalformed, name, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %s: image of %dx%d pixels (limit %d)", ErrMalformed, name, cfg.Width, cfg.Height, MaxPixels)
	}
	var img image.Image
	switch format {
	case "png":
		img, err = png.Decode(bytes.NewReader(data))
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(data))
	default:
		return nil, fmt.Errorf("%w: %s: %s image (want PNG or JPEG)", ErrUnsupported, name, format)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return img, nil
}

func readImageFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxImageBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxImageBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrUnsupported, path, MaxImageBytes)
	}
	return data, nil
}

// Batch implements Dataset: it decodes and preprocesses the images at idx
// (in parallel); they must all come out at one size.
func (d *ImageFolder) Batch(ctx context.Context, idx []int) (Batch, error) {
	if err := checkIdx(idx, len(d.files), d.root); err != nil {
		return Batch{}, err
	}
	type result struct {
		px   []float32
		h, w int
		err  error
	}
	res := make([]result, len(idx))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(idx)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := &res[i]
				path := d.files[idx[i]]
				data, err := readImageFile(path)
				if err != nil {
					r.err = err
					continue
				}
				img, err := DecodeImage(data, path)
				if err != nil {
					r.err = err
					continue
				}
				r.px, r.h, r.w, r.err = d.pre.Apply(img)
				if r.err != nil {
					r.err = fmt.Errorf("%s: %w", path, r.err)
				}
			}
		}()
	}
	for i := range idx {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Batch{}, err
	}
	for _, r := range res {
		if r.err != nil {
			return Batch{}, r.err
		}
	}
	h, w := res[0].h, res[0].w
	per := len(res[0].px)
	out := make([]float32, 0, len(idx)*per)
	for i, r := range res {
		if r.h != h || r.w != w {
			return Batch{}, fmt.Errorf("%w: %s is %dx%d after preprocessing, %s is %dx%d: images of a batch need one size (resize, crop or pad them)",
				ErrInvalid, d.files[idx[i]], r.w, r.h, d.files[idx[0]], w, h)
		}
		out = append(out, r.px...)
	}
	shape := []int{len(idx), d.pre.NumChannels(), h, w}
	if d.pre.layout() == NHWC {
		shape = []int{len(idx), h, w, d.pre.NumChannels()}
	}
	b := Batch{Inputs: map[string]*tensor.Dense{d.input: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out))}}
	if d.labels != nil {
		b.Labels = make([]int64, len(idx))
		for i, j := range idx {
			b.Labels[i] = d.labels[j]
		}
	}
	return b, nil
}

// regularFile: e is a regular file, or a symbolic link to one (a data set
// of links into another tree).
func regularFile(path string, e fs.DirEntry) bool {
	if e.Type().IsRegular() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
