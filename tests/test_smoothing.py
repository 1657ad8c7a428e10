"""Smoothing moves each input channel's range into the weights without changing the product;
the int8 graph made from it stays near float32's on inputs with an outlier channel, on a CPU
with VNNI (s8 weights) and on one without (u8 weights, whose products it cannot saturate)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from qa.embedders import smoothing


def two_layer_graph(first: np.ndarray, second: np.ndarray) -> onnx.ModelProto:
    """x -> MatMul(first) -> Relu -> MatMul(second) -> y, weights as initializers."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "first"], ["hidden"], name="first/MatMul"),
            helper.make_node("Relu", ["hidden"], ["active"], name="relu"),
            helper.make_node("MatMul", ["active", "second"], ["y"], name="second/MatMul"),
        ],
        "two-layers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, first.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, second.shape[1]])],
        [numpy_helper.from_array(first, "first"), numpy_helper.from_array(second, "second")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def run(model: onnx.ModelProto | bytes, x: np.ndarray) -> np.ndarray:
    graph = model if isinstance(model, bytes) else model.SerializeToString()
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def inputs(rng: np.random.Generator, rows: int) -> np.ndarray:
    x = rng.standard_normal((rows, 64)).astype(np.float32)
    x[:, 3] *= 60.0  # one outlier channel, as transformers have
    return x


def test_smoothing_keeps_the_float32_product():
    rng = np.random.default_rng(0)
    model = two_layer_graph(
        rng.standard_normal((64, 32)).astype(np.float32) / 8,
        rng.standard_normal((32, 16)).astype(np.float32) / 4,
    )
    x = inputs(rng, 5)
    readers = smoothing._weighted_products(model)
    assert sorted(readers) == ["active", "x"]
    ranges = smoothing._input_ranges(model, list(readers), lambda text: {"x": inputs(rng, 3)})
    smoothed = onnx.ModelProto()
    smoothed.CopyFrom(model)
    smoothing._smooth(smoothed, smoothing._weighted_products(smoothed), ranges)
    assert sum(node.op_type == "Mul" for node in smoothed.graph.node) == 2
    np.testing.assert_allclose(run(smoothed, x), run(model, x), rtol=1e-4, atol=1e-4)


def one_layer_graph(weights: np.ndarray) -> onnx.ModelProto:
    """x -> MatMul(weights) -> y."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="layer/MatMul")],
        "one-layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, weights.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, weights.shape[1]])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def test_the_smoothed_int8_graph_beats_plain_int8_on_an_outlier_channel(tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(1)
    model = one_layer_graph(rng.standard_normal((64, 96)).astype(np.float32) / 8)
    x = inputs(rng, 20)
    exact = run(model, x)
    smoothed = smoothing.smoothed_int8(
        model.SerializeToString(), lambda text: {"x": inputs(rng, 8)}
    )
    operators = {node.op_type for node in onnx.load_from_string(smoothed).graph.node}
    assert "MatMul" not in operators  # the product runs in int8
    onnx.save(model, tmp_path / "float32.onnx")
    quantize_dynamic(tmp_path / "float32.onnx", tmp_path / "int8.onnx", weight_type=QuantType.QInt8)
    plain = run((tmp_path / "int8.onnx").read_bytes(), x)

    def error(found: np.ndarray) -> float:
        return float(np.abs(found - exact).max() / np.abs(exact).max())

    assert error(run(smoothed, x)) < error(plain) / 2


def test_weights_are_unsigned_only_where_the_cpu_would_saturate_signed_ones():
    assert smoothing.signed_weights_saturate("x86_64", frozenset({"sse4_2", "avx2", "fma"}))
    assert not smoothing.signed_weights_saturate("x86_64", frozenset({"avx2", "avx512_vnni"}))
    assert not smoothing.signed_weights_saturate("x86_64", frozenset({"avx2", "avx_vnni"}))
    assert smoothing.signed_weights_saturate("AMD64", None)  # flags unread: exact anywhere
    assert not smoothing.signed_weights_saturate("aarch64", frozenset())


def test_the_int8_graph_holds_the_weights_this_cpu_multiplies_without_saturating():
    rng = np.random.default_rng(3)
    model = one_layer_graph(rng.standard_normal((64, 96)).astype(np.float32) / 8)
    smoothed = onnx.load_from_string(
        smoothing.smoothed_int8(model.SerializeToString(), lambda text: {"x": inputs(rng, 8)})
    )
    kinds = {
        tensor.data_type for tensor in smoothed.graph.initializer if list(tensor.dims) == [64, 96]
    }
    unsigned = smoothing.signed_weights_saturate()
    assert kinds == {TensorProto.UINT8 if unsigned else TensorProto.INT8}


def test_a_product_kept_in_float32_is_neither_smoothed_nor_quantised():
    rng = np.random.default_rng(2)
    model = two_layer_graph(
        rng.standard_normal((64, 32)).astype(np.float32) / 8,
        rng.standard_normal((32, 16)).astype(np.float32) / 4,
    )
    made = smoothing.smoothed_int8(
        model.SerializeToString(),
        lambda text: {"x": inputs(rng, 4)},
        texts=("one", "two"),
        migration=0.5,
        excluded=["second/MatMul"],
    )
    nodes = onnx.load_from_string(made).graph.node
    kept = [node for node in nodes if node.op_type == "MatMul"]
    assert [node.name for node in kept] == ["second/MatMul"]
    assert kept[0].input[0] == "active"  # read as the ReLU left it: no division before it
    divisions = [node.name for node in nodes if node.name.endswith("/smooth")]
    assert divisions == ["x/smooth"]  # the first product's input only
    x = inputs(rng, 6)
    exact = run(model, x)
    assert np.abs(run(made, x) - exact).max() < 0.05 * np.abs(exact).max()
