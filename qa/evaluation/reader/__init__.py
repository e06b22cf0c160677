"""Train, evaluate and export a small extractive span reader (a BERT encoder from qa.read.base + LoRA + span head).

Self-contained on purpose: imports only stdlib, numpy, torch, transformers, peft, safetensors and
onnxruntime, and qa's runtime reader module (what is trained is what ships); `--news` also uses the RealTimeQA
bench (qa.evaluation.realtimeqa) to retrieve its passages.

    python -m qa.evaluation.reader train  [--run-dir /work/runs/reader] [--epochs 2] ...
    python -m qa.evaluation.reader eval   --file dev-v1.1.json --positions 2,3 --limit 500 \
        [--ckpt DIR | --run-dir DIR | --artifact DIR [--onnx fp32|int8]]
    python -m qa.evaluation.reader export [--ckpt DIR | --run-dir DIR] [--out DIR] [--onnx]

Training data: SQuADShifts reddit + amazon, and the FIT half of SQuAD v1.1 dev (articles at positions
i % 4 in (0, 1)); with `--news even|odd|all`, RealTimeQA dev questions too (qa.evaluation.reader.news:
distant labels on the passages the bench index retrieves for each question as asked on its date; its SOURCE.md
allows fitting on dev, and a disjoint set of its questions is kept aside as the unseen check). The SQuAD dev
evaluation half (i % 4 in (2, 3)) and SQuADShifts new_wiki are never read by `train`. A held-out slice of the
training data (whole paragraphs) picks checkpoints.

Checkpoints (every --ckpt-every steps) live in RUN_DIR/checkpoints/step-NNNNNN/ and are written into a
temporary folder that is renamed into place, so a kill at any moment leaves the last complete one;
`train` resumes from the latest one automatically. The shipped artifact (`export`) is safetensors +
JSON only: the LoRA factors (unmerged, a few MB), the trained LayerNorms and the span head. The full
reader is rebuilt from the base weights + artifact by `build_reader` (no peft needed), and
`export_onnx` writes it as fp32 and dynamic-int8 ONNX.
"""
