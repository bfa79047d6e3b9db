# Sourced by bench scripts: textline_crops SHARED DIR lays out the data the
# fidelity builds of the torchvision models use (../shared has no ImageNet
# images): the first 64 lines of each class of SHARED/data/textlines/train as
# DIR/all/x/a*.png (the calibration images: an image folder's first files),
# the next 64 of each as DIR/all/x/b*.png and again as DIR/verify/x/b*.png
# (held out). One class folder "x": the labels mean nothing, so the builds
# run under a fidelity budget. Kept when DIR/verify/x exists.
textline_crops() {
	local shared=$1 fid=$2 i c f
	[ ! -d "$fid/verify/x" ] || return 0
	mkdir -p "$fid/all/x" "$fid/verify/x"
	i=0
	for c in 0 1; do
		for f in $(ls "$shared/data/textlines/train/$c" | head -64); do cp "$shared/data/textlines/train/$c/$f" "$fid/all/x/a$(printf %03d $i).png"; i=$((i + 1)); done
	done
	i=0
	for c in 0 1; do
		for f in $(ls "$shared/data/textlines/train/$c" | sed -n 65,128p); do
			cp "$shared/data/textlines/train/$c/$f" "$fid/all/x/b$(printf %03d $i).png"
			cp "$shared/data/textlines/train/$c/$f" "$fid/verify/x/b$(printf %03d $i).png"
			i=$((i + 1))
		done
	done
}
