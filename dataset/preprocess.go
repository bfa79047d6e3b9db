package dataset

import (
	"fmt"
	"image"
	"math"
	"slices"
	"strings"

	"golang.org/x/image/draw"
)

// Channels is the channel order of image tensors.
type Channels string

// The channel orders.
const (
	RGB  Channels = "rgb"
	BGR  Channels = "bgr" // OpenCV's order: PaddleOCR and other cv2 pipelines
	Gray Channels = "gray"
)

// Layout is the axis order of image tensors.
type Layout string

// The layouts.
const (
	NCHW Layout = "nchw"
	NHWC Layout = "nhwc"
)

// Preprocess turns a decoded image into a tensor, in this order:
//
//  1. resize: Resize [H, W] to exactly H×W, or Resize [S] the shorter side
//     to S with the aspect ratio kept (torchvision's Resize), or Height H
//     to height H with the aspect ratio kept, the width rounded up and
//     capped at MaxWidth (PaddleOCR's resize_norm_img); bilinear, with
//     the filter widened when shrinking (golang.org/x/image/draw.BiLinear);
//  2. CenterCrop [H, W] (or [S] for S×S), as torchvision's CenterCrop;
//  3. channels: RGB, BGR or Gray (ITU-R 601 luma, as PIL's convert("L"));
//     alpha is dropped;
//  4. x = (pixel·Scale − Mean[c]) / Std[c], pixel in 0..255;
//  5. PadWidth: pad on the right to this width with PadValue, after
//     normalising;
//  6. Layout: CHW (NCHW batches) or HWC.
//
// The zero value means: no resize or crop, RGB, Scale 1/255, mean 0, std 1,
// NCHW — torchvision's ToTensor.
type Preprocess struct {
	Resize     []int
	Height     int
	MaxWidth   int
	CenterCrop []int
	Channels   Channels
	Scale      float32   // 0 means 1/255
	Mean, Std  []float32 // one value for every channel, or one per channel
	PadWidth   int
	PadValue   float32
	Layout     Layout
}

// MaxPixels bounds the pixels of a decoded image (checked from its header
// before decoding) and of a resized one.
const MaxPixels = 1 << 26

// Presets are named preprocessings, for the command line.
var Presets = map[string]Preprocess{
	// PaddleOCR's text classifiers (ch_ppocr_mobile_v2.0_cls):
	// resize_norm_img with image shape 3,48,192 — height 48 with the aspect
	// kept, the width rounded up and capped at 192, (x/255 − 0.5)/0.5,
	// zero padding on the right to 192 — on RGB pixels, as the images of
	// ../shared/data/textlines were prepared. PaddleOCR's own tools read
	// images with OpenCV (BGR): set Channels to BGR to match them.
	"ppocr-cls": {Height: 48, MaxWidth: 192, Mean: []float32{0.5}, Std: []float32{0.5}, PadWidth: 192},
	// torchvision's ImageNet evaluation transform.
	"imagenet": {Resize: []int{256}, CenterCrop: []int{224}, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}},
	// MNIST-style gray images in [0, 1].
	"mnist": {Channels: Gray},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	var out []string
	for k := range Presets {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Preset returns the named preset.
func Preset(name string) (Preprocess, error) {
	p, ok := Presets[strings.ToLower(name)]
	if !ok {
		return Preprocess{}, fmt.Errorf("%w: preset %q: want one of %s", ErrInvalid, name, strings.Join(PresetNames(), ", "))
	}
	return p, nil
}

// NumChannels is 1 for Gray, else 3.
func (p *Preprocess) NumChannels() int {
	if p.channels() == Gray {
		return 1
	}
	return 3
}

func (p *Preprocess) channels() Channels {
	if p.Channels == "" {
		return RGB
	}
	return Channels(strings.ToLower(string(p.Channels)))
}

func (p *Preprocess) layout() Layout {
	if p.Layout == "" {
		return NCHW
	}
	return Layout(strings.ToLower(string(p.Layout)))
}

// Validate checks the fields and names the one that is wrong.
func (p *Preprocess) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: preprocess: "+format, append([]any{ErrInvalid}, a...)...)
	}
	if len(p.Resize) > 2 || (len(p.Resize) > 0 && slices.ContainsFunc(p.Resize, func(v int) bool { return v < 1 || v > 1<<14 })) {
		return bad("resize %v: want S or H,W with values in [1, 16384]", p.Resize)
	}
	if len(p.Resize) > 0 && p.Height > 0 {
		return bad("resize and height both set: use one")
	}
	if p.Height < 0 || p.Height > 1<<14 || p.MaxWidth < 0 || p.MaxWidth > 1<<14 {
		return bad("height %d, max width %d: want values in [0, 16384]", p.Height, p.MaxWidth)
	}
	if p.MaxWidth > 0 && p.Height == 0 {
		return bad("max width applies to a resize to a height")
	}
	if len(p.CenterCrop) > 2 || (len(p.CenterCrop) > 0 && slices.ContainsFunc(p.CenterCrop, func(v int) bool { return v < 1 || v > 1<<14 })) {
		return bad("center crop %v: want S or H,W with values in [1, 16384]", p.CenterCrop)
	}
	switch p.channels() {
	case RGB, BGR, Gray:
	default:
		return bad("channels %q: want rgb, bgr or gray", p.Channels)
	}
	switch p.layout() {
	case NCHW, NHWC:
	default:
		return bad("layout %q: want nchw or nhwc", p.Layout)
	}
	c := p.NumChannels()
	if n := len(p.Mean); n != 0 && n != 1 && n != c {
		return bad("%d mean values for %d channels", n, c)
	}
	if n := len(p.Std); n != 0 && n != 1 && n != c {
		return bad("%d std values for %d channels", n, c)
	}
	for _, s := range p.Std {
		if s == 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return bad("std %v: must be finite and nonzero", s)
		}
	}
	if math.IsNaN(float64(p.Scale)) || math.IsInf(float64(p.Scale), 0) {
		return bad("scale %v", p.Scale)
	}
	if p.PadWidth < 0 || p.PadWidth > 1<<14 {
		return bad("pad width %d: want a value in [0, 16384]", p.PadWidth)
	}
	return nil
}

// Apply preprocesses img into a CHW (or HWC) slice of float32 and returns
// it with its height and width.
func (p *Preprocess) Apply(img image.Image) ([]float32, int, int, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 {
		return nil, 0, 0, fmt.Errorf("%w: empty image", ErrMalformed)
	}
	// 1. Resize.
	tw, th := w, h
	switch {
	case len(p.Resize) == 2:
		th, tw = p.Resize[0], p.Resize[1]
	case len(p.Resize) == 1:
		s := p.Resize[0]
		if w <= h {
			tw, th = s, int(float64(s)*float64(h)/float64(w))
		} else {
			th, tw = s, int(float64(s)*float64(w)/float64(h))
		}
	case p.Height > 0:
		th = p.Height
		tw = int(math.Ceil(float64(p.Height) * float64(w) / float64(h)))
		if p.MaxWidth > 0 && tw > p.MaxWidth {
			tw = p.MaxWidth
		}
	}
	tw, th = max(tw, 1), max(th, 1)
	if int64(tw)*int64(th) > MaxPixels {
		return nil, 0, 0, fmt.Errorf("%w: resizing %dx%d to %dx%d exceeds %d pixels", ErrInvalid, w, h, tw, th, MaxPixels)
	}
	src := toNRGBA(img)
	if tw != w || th != h {
		dst := image.NewNRGBA(image.Rect(0, 0, tw, th))
		draw.BiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		src, w, h = dst, tw, th
	}
	// 2. Center crop (torchvision: top = round((h − ch)/2)).
	x0, y0, cw, ch := 0, 0, w, h
	if len(p.CenterCrop) > 0 {
		ch, cw = p.CenterCrop[0], p.CenterCrop[len(p.CenterCrop)-1]
		if ch > h || cw > w {
			return nil, 0, 0, fmt.Errorf("%w: center crop %dx%d of a %dx%d image: resize first", ErrInvalid, cw, ch, w, h)
		}
		y0 = int(math.Round(float64(h-ch) / 2))
		x0 = int(math.Round(float64(w-cw) / 2))
	}
	// 3–5. Channels, normalise, pad.
	nc := p.NumChannels()
	ow := cw
	if p.PadWidth > 0 {
		if cw > p.PadWidth {
			return nil, 0, 0, fmt.Errorf("%w: image %d wide after resizing, wider than the pad width %d: set a max width or resize", ErrInvalid, cw, p.PadWidth)
		}
		ow = p.PadWidth
	}
	scale := p.Scale
	if scale == 0 {
		scale = 1.0 / 255
	}
	mean := func(c int) float32 { return pick(p.Mean, c, 0) }
	std := func(c int) float32 { return pick(p.Std, c, 1) }
	out := make([]float32, nc*ch*ow)
	chw := p.layout() == NCHW
	at := func(c, y, x int) int {
		if chw {
			return (c*ch+y)*ow + x
		}
		return (y*ow+x)*nc + c
	}
	order := [3]int{0, 1, 2}
	if p.channels() == BGR {
		order = [3]int{2, 1, 0}
	}
	for y := range ch {
		row := src.Pix[(y0+y)*src.Stride+4*x0:]
		for x := range cw {
			px := row[4*x : 4*x+3]
			if nc == 1 {
				lum := (19595*uint32(px[0]) + 38470*uint32(px[1]) + 7471*uint32(px[2]) + 1<<15) >> 16
				out[at(0, y, x)] = (float32(lum)*scale - mean(0)) / std(0)
				continue
			}
			for c := range 3 {
				out[at(c, y, x)] = (float32(px[order[c]])*scale - mean(c)) / std(c)
			}
		}
		for x := cw; x < ow; x++ {
			for c := range nc {
				out[at(c, y, x)] = p.PadValue
			}
		}
	}
	return out, ch, ow, nil
}

func pick(v []float32, c int, def float32) float32 {
	switch len(v) {
	case 0:
		return def
	case 1:
		return v[0]
	}
	return v[c]
}

// toNRGBA returns img as non-premultiplied 8-bit RGBA at origin (0, 0).
func toNRGBA(img image.Image) *image.NRGBA {
	if n, ok := img.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n
	}
	b := img.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}
