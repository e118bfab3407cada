# Keras 3 reference outputs for the keras-datasets fixture tests (IMDB, Reuters, Boston Housing):
# writes tiny .npz fixtures, runs Keras's own loaders on them, prints the results the Rust tests
# compare against. Usage: KERAS_BACKEND=jax python scripts/gen_datasets_reference.py [OUT_DIR]
import os, json, numpy as np
os.environ["KERAS_BACKEND"]="jax"
import keras
from keras.src.datasets import imdb, reuters, boston_housing
import sys
d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/kds-ref"
os.makedirs(d, exist_ok=True)
def seqs(n, off):
    return [[(i*7 + j*11 + off) % 23 for j in range((i*3 + off) % 5 + 1)] for i in range(n)]
def obj(l):
    a = np.empty(len(l), dtype=object)
    for i,s in enumerate(l): a[i]=s
    return a
tr, te = seqs(7, 0), seqs(5, 1)
ytr = np.array([(i*5) % 2 for i in range(7)], dtype=np.int64)
yte = np.array([(i*3+1) % 2 for i in range(5)], dtype=np.int64)
np.savez(f"{d}/imdb.npz", x_train=obj(tr), y_train=ytr, x_test=obj(te), y_test=yte)
imdb.get_file = lambda *a, **k: f"{d}/imdb.npz"
out = {}
cases = {
 "default": {},
 "b": dict(num_words=10, skip_top=2, maxlen=5),
 "c": dict(start_char=None, oov_char=None, index_from=0, num_words=15),
 "d": dict(seed=7, maxlen=4, oov_char=None, skip_top=4),
}
for k,a in cases.items():
    (x,y),(xt,yt) = imdb.load_data(**a)
    out["imdb_"+k] = [[list(map(int,s)) for s in x], list(map(int,y)), [list(map(int,s)) for s in xt], list(map(int,yt))]
# reuters
xs = seqs(12, 2); ys = np.array([(i*13) % 46 for i in range(12)], dtype=np.int64)
np.savez(f"{d}/reuters.npz", x=obj(xs), y=ys)
reuters.get_file = lambda *a, **k: f"{d}/reuters.npz"
for k,a in {"default": {}, "b": dict(test_split=0.5, seed=1, num_words=12, maxlen=5)}.items():
    (x,y),(xt,yt) = reuters.load_data(**a)
    out["reuters_"+k] = [[list(map(int,s)) for s in x], list(map(int,y)), [list(map(int,s)) for s in xt], list(map(int,yt))]
# boston
bx = np.array([[i*13 + j for j in range(13)] for i in range(10)], dtype=np.float64); by = np.arange(10)*0.5
np.savez(f"{d}/boston_housing.npz", x=bx, y=by)
boston_housing.get_file = lambda *a, **k: f"{d}/boston_housing.npz"
for k,a in {"default": {}, "b": dict(test_split=0.3, seed=1)}.items():
    (x,y),(xt,yt) = boston_housing.load_data(**a)
    out["boston_"+k] = [x.shape, list(map(float,x[:,0])), list(map(float,y)), xt.shape, list(map(float,xt[:,0])), list(map(float,yt))]
for k,v in out.items(): print(k, json.dumps(v))
