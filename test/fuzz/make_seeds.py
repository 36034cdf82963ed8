"""Real files for the fuzz harness to mutate, and where their structures and integer fields are.

usage: /usr/bin/python3 make_seeds.py OUT_DIR DATA_PHOTO
writes into OUT_DIR:
  tv_zip.pth, tv_legacy.pth, tv_p4_zip.pth   the first tensors of torchvision's googlenet state dict (conv1, conv2,
                                             inception3a.branch1: weights, BatchNorm statistics, num_batches_tracked)
                                             as torch.save writes them (zip, legacy, pickle protocol 4)
  deflated.zip, zip64.zip                    zip archives with deflated entries and with zip64 records (Python's zipfile)
  img_*.jpg/png/bmp/pgm/ppm                  one real photo (DATA_PHOTO, shrunk) in every format and mode the loader reads
  regions.json                               {file: {boundaries: [offsets], fields: [{at, width, big}]}}
"""
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import zipfile

import torch
import torchvision
from PIL import Image

out, photo = sys.argv[1], sys.argv[2]
regions = {}

# Integer arguments and length prefixes of pickle opcodes: name -> width.
INT_ARGS = {
    'PROTO': 1, 'BININT': 4, 'BININT1': 1, 'BININT2': 2, 'LONG1': 1, 'LONG4': 4, 'BINUNICODE': 4, 'SHORT_BINUNICODE': 1,
    'BINUNICODE8': 8, 'BINBYTES': 4, 'SHORT_BINBYTES': 1, 'BINBYTES8': 8, 'BINSTRING': 4, 'SHORT_BINSTRING': 1,
    'BINPUT': 1, 'LONG_BINPUT': 4, 'BINGET': 1, 'LONG_BINGET': 4, 'FRAME': 8,
}


def pickle_regions(data, base, r):
    """Opcode boundaries and integer fields of the pickle at data[base:]; returns its end offset."""
    end = base
    for op, arg, pos in pickletools.genops(data[base:]):
        r['boundaries'].append(base + pos)
        if op.name in INT_ARGS:
            r['fields'].append({'at': base + pos + 1, 'width': INT_ARGS[op.name]})
        end = base + pos + 1
        if op.name == 'STOP':
            break
    return end


def zip_regions(data, r):
    z = zipfile.ZipFile(io.BytesIO(data))
    for info in z.infolist():
        h = info.header_offset
        nlen, xlen = struct.unpack('<HH', data[h + 26:h + 30])
        start = h + 30 + nlen + xlen
        r['boundaries'] += [h, h + 30, start, start + info.compress_size]
        r['fields'] += [{'at': h + o, 'width': w} for o, w in [(8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)]]
        if info.filename.endswith('data.pkl') and info.compress_type == zipfile.ZIP_STORED:
            pickle_regions(data, start, r)
    e = data.rindex(b'PK\x05\x06')
    cd_size, cd = struct.unpack('<II', data[e + 12:e + 20])
    if cd == 0xffffffff:  # zip64: the classic record points nowhere; take the zip64 record's
        r64 = data.rindex(b'PK\x06\x06')
        cd = struct.unpack('<Q', data[r64 + 48:r64 + 56])[0]
        r['boundaries'].append(r64)
        r['fields'] += [{'at': r64 + o, 'width': 8} for o in (24, 32, 40, 48)]
    p = cd
    while p < e and data[p:p + 4] == b'PK\x01\x02':
        nlen, xlen, clen = struct.unpack('<HHH', data[p + 28:p + 34])
        r['boundaries'].append(p)
        r['fields'] += [{'at': p + o, 'width': w} for o, w in [(10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4)]]
        p += 46 + nlen + xlen + clen
    r['boundaries'] += [e, len(data)]
    r['fields'] += [{'at': e + o, 'width': w} for o, w in [(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)]]


class Keys(pickle.Unpickler):
    """Reads a legacy file's object pickle for its storages' element sizes, building nothing."""

    def __init__(self, f, sizes):
        super().__init__(f)
        self.sizes = sizes

    def persistent_load(self, pid):
        self.sizes[pid[2]] = getattr(torch, pid[1].__name__)().element_size()
        return None

    def find_class(self, module, name):
        if module == 'torch' and name.endswith('Storage'):
            return type(name, (), {})
        if module == 'collections':
            return super().find_class(module, name)
        return lambda *a, **k: None


def legacy_regions(data, r):
    """The five pickles, then per storage its int64 element count and its data."""
    element_sizes = {}
    f = io.BytesIO(data)
    for _ in range(3):
        pickle.load(f)
    Keys(f, element_sizes).load()
    pos = 0
    for _ in range(4):  # magic, protocol version, system info, the object
        pos = pickle_regions(data, pos, r)
    keys = pickle.loads(data[pos:])
    p = pickle_regions(data, pos, r)
    for k in keys:
        n = struct.unpack('<q', data[p:p + 8])[0]
        r['boundaries'] += [p, p + 8]
        r['fields'].append({'at': p, 'width': 8})
        p += 8 + n * element_sizes[k]
        r['boundaries'].append(p)


def image_regions(data, r):
    """JPEG segments, PNG chunks, BMP header fields, Netpbm header tokens."""
    if data[:2] == b'\xff\xd8':
        p = 2
        while p + 4 <= len(data) and data[p] == 0xff:
            marker, length = data[p + 1], struct.unpack('>H', data[p + 2:p + 4])[0]
            r['boundaries'] += [p, p + 4]
            r['fields'].append({'at': p + 2, 'width': 2, 'big': True})
            if 0xc0 <= marker <= 0xc2:
                r['fields'] += [{'at': p + 5, 'width': 2, 'big': True}, {'at': p + 7, 'width': 2, 'big': True}, {'at': p + 9, 'width': 1}]
            if marker == 0xda:
                break
            p += 2 + length
        r['boundaries'].append(data.rfind(b'\xff\xd9'))
    elif data[:4] == b'\x89PNG':
        p = 8
        while p + 8 <= len(data):
            n = struct.unpack('>I', data[p:p + 4])[0]
            r['boundaries'] += [p, p + 8, p + 8 + n]
            r['fields'].append({'at': p, 'width': 4, 'big': True})
            if data[p + 4:p + 8] == b'IHDR':
                r['fields'] += [{'at': p + 8, 'width': 4, 'big': True}, {'at': p + 12, 'width': 4, 'big': True}, {'at': p + 16, 'width': 1}]
            p += 12 + n
    elif data[:2] == b'BM':
        r['fields'] += [{'at': o, 'width': w} for o, w in [(2, 4), (10, 4), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2), (30, 4), (34, 4), (46, 4), (54, 4)]]
        r['boundaries'] += [14, 14 + struct.unpack('<I', data[14:18])[0], struct.unpack('<I', data[10:14])[0]]
    else:  # Netpbm: the header's tokens
        p = 0
        for _ in range(4):
            while p < len(data) and not data[p:p + 1].isspace():
                p += 1
            r['boundaries'].append(p)
            while p < len(data) and data[p:p + 1].isspace():
                p += 1
            r['boundaries'].append(p)


def save(name, data, kind):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
    r = {'boundaries': [0, len(data)], 'fields': []}
    if kind == 'zip':
        zip_regions(data, r)
    elif kind == 'legacy':
        legacy_regions(data, r)
    elif kind == 'image':
        image_regions(data, r)
    r['boundaries'] = sorted(set(r['boundaries']))
    regions[name] = r


# -- .pth: torchvision's layout ------------------------------------------------------------------------
torch.manual_seed(0)
model = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(7)
keep = ('conv1.', 'conv2.', 'inception3a.branch1.')
sd = {k: v for k, v in model.state_dict().items() if k.startswith(keep)}
sd = type(model.state_dict())(sd)


def torch_bytes(**kw):
    b = io.BytesIO()
    torch.save(sd, b, **kw)
    return b.getvalue()


legacy = torch_bytes(_use_new_zipfile_serialization=False)
save('tv_zip.pth', torch_bytes(), 'zip')
save('tv_legacy.pth', legacy, 'legacy')
save('tv_p4_zip.pth', torch_bytes(pickle_protocol=4), 'zip')

# -- zip archives: deflated entries, zip64 -------------------------------------------------------------
b = io.BytesIO()
with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('archive/data.pkl', pickle.dumps({'a': list(range(50))}, protocol=2))
    z.writestr('archive/data/0', bytes(range(256)) * 20)
    z.writestr('archive/data/1', b'\0' * 30000)
    z.writestr('archive/version', '3\n')
save('deflated.zip', b.getvalue(), 'zip')
b = io.BytesIO()
with zipfile.ZipFile(b, 'w', zipfile.ZIP_STORED) as z:
    for i, payload in enumerate([b'first entry\n', bytes(range(256)) * 4]):
        with z.open(f'archive/data/{i}', 'w', force_zip64=True) as e:
            e.write(payload)
save('zip64.zip', b.getvalue(), 'zip')

# -- images: one real photo in every format the loader reads ----------------------------------------
im = Image.open(photo).convert('RGB')
im.thumbnail((48, 48))
images = {
    'img_baseline.jpg': lambda f: im.save(f, 'JPEG', quality=90),
    'img_progressive.jpg': lambda f: im.save(f, 'JPEG', quality=80, progressive=True),
    'img_grey.jpg': lambda f: im.convert('L').save(f, 'JPEG'),
    'img_rgb.png': lambda f: im.save(f, 'PNG'),
    'img_palette.png': lambda f: im.convert('P').save(f, 'PNG'),
    'img_rgba.png': lambda f: im.convert('RGBA').save(f, 'PNG'),
    'img_grey16.png': lambda f: im.convert('I').point(lambda v: v * 200).convert('I;16').save(f, 'PNG'),
    'img_rgb.bmp': lambda f: im.save(f, 'BMP'),
    'img_palette.bmp': lambda f: im.convert('P').save(f, 'BMP'),
    'img_grey.bmp': lambda f: im.convert('L').save(f, 'BMP'),
    'img_mono.bmp': lambda f: im.convert('1').save(f, 'BMP'),
    'img_rgba.bmp': lambda f: im.convert('RGBA').save(f, 'BMP'),
    'img_grey.pgm': lambda f: im.convert('L').save(f, 'PPM'),
    'img_rgb.ppm': lambda f: im.save(f, 'PPM'),
    'img_mono.pbm': lambda f: im.convert('1').save(f, 'PPM'),
}
exif = Image.Exif()
exif[0x0112] = 6
images['img_exif6.jpg'] = lambda f: im.save(f, 'JPEG', exif=exif.tobytes())
for name, write in images.items():
    b = io.BytesIO()
    write(b)
    save(name, b.getvalue(), 'image')
# Plain (ASCII) Netpbm, which PIL does not write.
g = im.convert('L')
w, h = g.size
save('img_plain.pgm', (f'P2\n# plain\n{w} {h}\n255\n' + '\n'.join(' '.join(str(g.getpixel((x, y))) for x in range(w)) for y in range(h)) + '\n').encode(), 'image')
save('img_plain.ppm', (f'P3\n{w} {h}\n255\n' + '\n'.join(' '.join('%d %d %d' % im.getpixel((x, y)) for x in range(w)) for y in range(h)) + '\n').encode(), 'image')
# The other fixtures in OUT_DIR (test/torch/fixtures' tensors.py and malicious.py, run before this script).
for name in sorted(os.listdir(out)):
    if name.endswith('.pth') and name not in regions:
        with open(os.path.join(out, name), 'rb') as f:
            data = f.read()
        r = {'boundaries': [0, len(data)], 'fields': []}
        try:
            zip_regions(data, r) if data[:2] == b'PK' else legacy_regions(data, r)
        except Exception:  # the malicious files: as far as they go
            pass
        r['boundaries'] = sorted(set(r['boundaries']))
        regions[name] = r
with open(os.path.join(out, 'regions.json'), 'w') as f:
    json.dump(regions, f)
