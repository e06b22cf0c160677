"""qa.embed.onnx: the one-time export keeps torch's and onnxruntime's noise from the user, not qa's own lines."""
from __future__ import annotations

import logging
import warnings

from qa.embed.onnx import quiet_exporters


def test_export_noise_is_dropped_and_qa_logs_are_kept(caplog):
    caplog.set_level(logging.INFO)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_exporters():
            warnings.warn("Converting a tensor to a Python boolean might cause the trace to be incorrect. "
                          "We can't record the data flow of Python values, so this value will be treated as a "
                          "constant in the future. This means that the trace might not generalize to other inputs!")
            logging.warning("Please consider to run pre-processing before quantization.")
            logging.getLogger("qa.embed.onnx").info("preparing the fast int8 encoder")
        warnings.warn("after the export")
        logging.warning("after the export")
    assert [str(w.message) for w in seen] == ["after the export"]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["preparing the fast int8 encoder", "after the export"]
