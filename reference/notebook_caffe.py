"""Google's 2015 DeepDream notebook (dream.ipynb), ported to Python 3, on real Caffe.

Runs only under Caffe's Python (``reference/caffe_python.sh``: Debian's /usr/bin/python3 with
pycaffe on the path); the project never imports this module. The functions follow the
notebook line by line; the only change is that the jitter draw
``ox, oy = np.random.randint(-jitter, jitter + 1, 2)`` comes from an :class:`Offsets` object
(an explicit list, or the same draws from ``np.random.RandomState(seed)``), so another
implementation can replay the exact sequence. The display code (``showarray``) is dropped.

Arrays as in the notebook: Caffe images are (3, H, W) float32, BGR minus the mean (104, 116,
122; or the job's "mean", e.g. open_nsfw's 104, 117, 123), 0-255 scale; RGB images are
(H, W, 3) float32, 0-255.

Caffe quirk that matters for ``end`` blobs inside an inception module: ``net.backward(start=
end)`` runs the backward of *every* layer listed before ``end``, including sibling branches that
do not feed it (for ``inception_3b/5x5_reduce``: the module's 1x1 and 3x3 branches), using
whatever diffs their tops still hold. On a fresh net those are zeros and stay zeros, so the
gradient is exact; after a backward from a later blob (the notebook dreams on
``inception_4c/output`` first) they hold that pass's diffs, which then leak into every step
(synthetic weights, 200x300: the difference is 3.2 times the clean gradient, in L2 norm). So
each job task here runs on a freshly loaded net: the clean gradient, as in a fresh session.

Command line (used by reference/caffe_job.py from the project's venv)::

    caffe_python.sh reference/notebook_caffe.py JOB.json

JOB.json: {"prototxt", "caffemodel", "inputs": inputs.npz, "output": results.npz,
"tasks": [...], optional "one_session": true, optional "mean": [B, G, R]}; see
:func:`run_task` for the task kinds and what each writes.
"""

import json
import sys
import tempfile

import caffe
import numpy as np
import scipy.ndimage as nd
from google.protobuf import text_format

MEAN_BGR = np.float32([104.0, 116.0, 122.0])


def load_net(prototxt, caffemodel, mean=MEAN_BGR):
    """The notebook's net: deploy prototxt patched with ``force_backward: true``, loaded as
    ``caffe.Classifier`` with the mean (BGR, the ImageNet mean by default) and RGB->BGR
    channel swap."""
    model = caffe.io.caffe_pb2.NetParameter()
    with open(prototxt) as f:
        text_format.Merge(f.read(), model)
    model.force_backward = True
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt") as tmp:
        tmp.write(str(model))
        tmp.flush()
        return caffe.Classifier(tmp.name, caffemodel, mean=np.float32(mean), channel_swap=(2, 1, 0))


def preprocess(net, img):
    """(H, W, 3) RGB 0-255 -> (3, H, W) float32 BGR minus mean."""
    return np.float32(np.rollaxis(img, 2)[::-1]) - net.transformer.mean["data"]


def deprocess(net, img):
    """(3, H, W) BGR minus mean -> (H, W, 3) float32 RGB 0-255."""
    return np.dstack((img + net.transformer.mean["data"])[::-1])


class Offsets:
    """Jitter offsets (ox, oy) per step: from ``offsets`` ((n, 2) ints, in order) or drawn like
    the notebook from ``np.random.RandomState(seed)``. ``used`` records every draw."""

    def __init__(self, offsets=None, seed=None):
        self.given = None if offsets is None else [tuple(int(v) for v in o) for o in offsets]
        self.rng = np.random.RandomState(seed)
        self.used = []

    def draw(self, jitter):
        if self.given is None:
            ox, oy = self.rng.randint(-jitter, jitter + 1, 2)
        else:
            if len(self.used) >= len(self.given):
                raise ValueError(f"ran out of jitter offsets after {len(self.used)} steps")
            ox, oy = self.given[len(self.used)]
        self.used.append((int(ox), int(oy)))
        return int(ox), int(oy)


def objective_L2(dst):  # noqa: N802  (the notebook's name)
    dst.diff[:] = dst.data


def make_step(
    net, offsets, step_size=1.5, end="inception_4c/output", jitter=32, clip=True,
    objective=objective_L2,
):  # fmt: skip
    """Basic gradient ascent step."""
    src = net.blobs["data"]  # input image is stored in Net's 'data' blob
    dst = net.blobs[end]

    ox, oy = offsets.draw(jitter)
    src.data[0] = np.roll(np.roll(src.data[0], ox, -1), oy, -2)  # apply jitter shift

    net.forward(end=end)
    objective(dst)  # specify the optimization objective
    net.backward(start=end)
    g = src.diff[0]
    # apply normalized ascent step to the input image
    src.data[:] += step_size / np.abs(g).mean() * g

    src.data[0] = np.roll(np.roll(src.data[0], -ox, -1), -oy, -2)  # unshift image

    if clip:
        bias = net.transformer.mean["data"]
        src.data[:] = np.clip(src.data, -bias, 255 - bias)


def deepdream(
    net, base_img, offsets, iter_n=10, octave_n=4, octave_scale=1.4,
    end="inception_4c/output", clip=True, **step_params,
):  # fmt: skip
    """The notebook's multi-octave dream of ``base_img`` ((H, W, 3) RGB): returns the
    deprocessed (H, W, 3) float32 RGB result."""
    # prepare base images for all octaves
    octaves = [preprocess(net, base_img)]
    for _ in range(octave_n - 1):
        octaves.append(nd.zoom(octaves[-1], (1, 1.0 / octave_scale, 1.0 / octave_scale), order=1))

    src = net.blobs["data"]
    detail = np.zeros_like(octaves[-1])  # allocate image for network-produced details
    for octave, octave_base in enumerate(octaves[::-1]):
        h, w = octave_base.shape[-2:]
        if octave > 0:
            # upscale details from the previous octave
            h1, w1 = detail.shape[-2:]
            detail = nd.zoom(detail, (1, 1.0 * h / h1, 1.0 * w / w1), order=1)

        src.reshape(1, 3, h, w)  # resize the network's input image size
        src.data[0] = octave_base + detail
        for _ in range(iter_n):
            make_step(net, offsets, end=end, clip=clip, **step_params)

        # extract details produced on the current octave
        detail = src.data[0] - octave_base
    # returning the resulting image
    return deprocess(net, src.data[0])


def guide_objective(net, guide, end):
    """The notebook's ``objective_guide`` for guide image ``guide`` ((h, w, 3) RGB), its
    features at ``end`` taken at the guide's own size."""
    h, w = guide.shape[:2]
    src, dst = net.blobs["data"], net.blobs[end]
    src.reshape(1, 3, h, w)
    src.data[0] = preprocess(net, guide)
    net.forward(end=end)
    guide_features = dst.data[0].copy()

    def objective_guide(dst):
        x = dst.data[0].copy()
        y = guide_features
        ch = x.shape[0]
        x = x.reshape(ch, -1)
        y = y.reshape(ch, -1)
        A = x.T.dot(y)  # compute the matrix of dot-products with guide features  # noqa: N806
        dst.diff[0].reshape(ch, -1)[:] = y[:, A.argmax(1)]  # select ones that match best

    return objective_guide


def zoom_frames(net, img, n_frames, offsets, s=0.05, **dream_params):
    """The notebook's feedback loop: frame = deepdream(frame), kept, then zoomed by ``s``.
    Returns the ``n_frames`` dreamed (H, W, 3) float32 frames (each before its zoom)."""
    frame = img
    h, w = frame.shape[:2]
    frames = []
    for _ in range(n_frames):
        frame = deepdream(net, frame, offsets, **dream_params)
        frames.append(frame)
        frame = nd.affine_transform(frame, [1 - s, 1 - s, 1], [h * s / 2, w * s / 2, 0], order=1)
    return frames


def top_blob(net, name):
    """The blob a layer writes (its top: for an in-place layer, the blob it overwrote), or
    ``name`` itself for a blob that no layer of that name writes."""
    tops = net.top_names.get(name)
    return tops[0] if tops else name


def forward_blobs(net, img, names):
    """{name: (C, h, w) float32} after ``net.forward(end=name)`` on RGB ``img``: the layer's
    top right after it ran, so a convolution's name gives its pre-ReLU value (as the
    notebook's ``end`` sees it) and an in-place layer's name the value it wrote."""
    src = net.blobs["data"]
    src.reshape(1, 3, *img.shape[:2])
    src.data[0] = preprocess(net, img)
    out = {}
    for name in names:
        net.forward(end=name)
        out[name] = net.blobs[top_blob(net, name)].data[0].copy()
    return out


def input_gradient(net, img, end):
    """(3, H, W) gradient of 0.5 * sum(a ** 2) at ``end`` w.r.t. the (BGR - mean) input,
    i.e. ``src.diff`` after the notebook's objective_L2 and ``backward(start=end)``."""
    src = net.blobs["data"]
    src.reshape(1, 3, *img.shape[:2])
    src.data[0] = preprocess(net, img)
    net.forward(end=end)
    objective_L2(net.blobs[top_blob(net, end)])
    net.backward(start=end)
    return src.diff[0].copy()


def run_task(net, task, inputs):
    """Run one job task; returns {result key: array}. Task kinds (images are input keys):

    - blobs: {"image", "blobs": [names]} -> "<id>/<name>" (C, h, w) per blob
    - gradient: {"image", "end"} -> "<id>" (3, H, W)
    - dream: {"image", "params", "offsets" (input key) or "seed", optional "guide"} ->
      "<id>" (H, W, 3) RGB and "<id>/offsets" (steps, 2) int64
    - zoom: as dream plus {"n_frames", "s"} -> "<id>/<k>" per frame and "<id>/offsets"
    - save: {"path"}: ``net.save(path)``, the caffemodel as Caffe writes it -> nothing
    """
    tid, kind = task["id"], task["kind"]
    if kind == "save":
        net.save(task["path"])
        return {}
    img = inputs[task["image"]]
    if kind == "blobs":
        return {tid + "/" + n: a for n, a in forward_blobs(net, img, task["blobs"]).items()}
    if kind == "gradient":
        return {tid: input_gradient(net, img, task["end"])}
    given = inputs[task["offsets"]] if task.get("offsets") else None
    offsets = Offsets(given, task.get("seed"))
    params = dict(task.get("params", {}))
    if task.get("guide"):
        params["objective"] = guide_objective(net, inputs[task["guide"]], params["end"])
    if kind == "dream":
        out = {tid: deepdream(net, img, offsets, **params)}
    elif kind == "zoom":
        frames = zoom_frames(net, img, task["n_frames"], offsets, s=task["s"], **params)
        out = {f"{tid}/{k}": frame for k, frame in enumerate(frames)}
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    out[tid + "/offsets"] = np.array(offsets.used, dtype=np.int64).reshape(-1, 2)
    return out


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    with np.load(job["inputs"]) as data:
        inputs = {k: data[k] for k in data.files}
    results, net = {}, None
    for task in job["tasks"]:
        # A fresh net per task: Caffe keeps stale diffs between backward passes (see above).
        # "one_session": true runs every task on one net, as cells of one notebook session.
        if net is None or not job.get("one_session", False):
            net = load_net(job["prototxt"], job["caffemodel"], job.get("mean", MEAN_BGR))
        results.update(run_task(net, task, inputs))
    np.savez(job["output"], **results)


if __name__ == "__main__":
    main(sys.argv[1])
