#!/usr/bin/python3
"""An independent reader of TensorBoard event files, for @convkit/loggers' tests.

Usage: /usr/bin/python3 read_tfevents.py FILE...   → prints {"FILE": [event, ...]} as JSON; exit 1 on a bad file.

Checks every TFRecord: the 8-byte length and its masked CRC32C, the data and its masked CRC32C (python3-crc32c),
and that the file ends on a record boundary. Decodes each record as a tensorboard Event with Google's protobuf
runtime (python3-protobuf) from tensorboard_subset.proto, compiled here by protoc (protobuf-compiler), and checks
that image values hold PNG bytes whose header matches the image's width and height. Needs no TensorFlow.
"""
import importlib, json, os, struct, subprocess, sys, tempfile

import crc32c  # python3-crc32c

HERE = os.path.dirname(os.path.abspath(__file__))


def masked_crc(data):
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def load_proto():
    out = tempfile.mkdtemp(prefix="tbsubset-")
    subprocess.run(["protoc", f"--proto_path={HERE}", f"--python_out={out}", "tensorboard_subset.proto"], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("tensorboard_subset_pb2")


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    offset = 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise ValueError(f"{path}: truncated record header at byte {offset}")
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        if length_crc != masked_crc(header):
            raise ValueError(f"{path}: bad length CRC at byte {offset}")
        body = data[offset + 12:offset + 12 + length]
        if len(body) != length or offset + 16 + length > len(data):
            raise ValueError(f"{path}: truncated record data at byte {offset}")
        (data_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
        if data_crc != masked_crc(body):
            raise ValueError(f"{path}: bad data CRC at byte {offset}")
        yield body
        offset += 16 + length


def value_json(value):
    kind = value.WhichOneof("value")
    out = {"tag": value.tag, "kind": kind}
    if kind == "simple_value":
        out["value"] = value.simple_value
    elif kind == "histo":
        h = value.histo
        out.update(min=h.min, max=h.max, num=h.num, sum=h.sum, sum_squares=h.sum_squares,
                   bucket_limit=list(h.bucket_limit), bucket=list(h.bucket))
    elif kind == "image":
        img = value.image
        png = img.encoded_image_string
        if png[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"image {value.tag}: not PNG bytes")
        width, height = struct.unpack(">II", png[16:24])
        if (width, height) != (img.width, img.height):
            raise ValueError(f"image {value.tag}: proto says {img.width}x{img.height}, PNG header {width}x{height}")
        out.update(height=img.height, width=img.width, colorspace=img.colorspace, bytes=len(png))
    return out


def main(paths):
    pb = load_proto()
    result = {}
    for path in paths:
        events = []
        for body in records(path):
            event = pb.Event()
            event.ParseFromString(body)
            item = {"wall_time": event.wall_time, "step": event.step, "what": event.WhichOneof("what")}
            if item["what"] == "file_version":
                item["file_version"] = event.file_version
            elif item["what"] == "summary":
                item["values"] = [value_json(v) for v in event.summary.value]
            elif item["what"] == "session_log":
                item["status"] = pb.SessionLog.SessionStatus.Name(event.session_log.status)
            events.append(item)
        result[path] = events
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ValueError as error:
        print(str(error), file=sys.stderr)
        sys.exit(1)
