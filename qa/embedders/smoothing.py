"""A question's graph in int8 that stays close to float32: activation outliers moved into the
weights (SmoothQuant, Xiao et al. 2023), then ONNX Runtime's dynamic quantisation.

Dynamic int8 gives each matrix product's input one scale per call. A transformer's inputs hold
a few channels far larger than the rest (GELU's outputs above all), so that one scale rounds
every other channel coarsely: quantised as it is, every product in int8 took a question's
vector to a cosine of 0.9966 with float32's. Dividing input channel j by s_j and multiplying
row j of the weights by s_j computes the same product; with s_j = max|x_j|^a / max|W_j|^(1-a)
both sides round well (0.9990 here, a = 0.65, at about 2x float32's speed for one question on
one thread: docs/benchmarks.md#int8-questions). The ranges max|x_j| are measured once, when
the graph is made, on everyday questions and sentences written for this (`CALIBRATION`); the
division is one Mul before each product's input, shared by the products that read it.
"""

from __future__ import annotations

import logging
import platform
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

#: How much of each channel's range moves into the weights (SmoothQuant's alpha).
MIGRATION = 0.65
#: Bounds on each channel's divisor, so that a channel that never fired is not blown up.
DIVISOR_RANGE = (1e-2, 1e2)
#: Everyday questions and statements, English and Spanish, on no archive's subject: what the
#: graph's activations look like. Written for this project, not taken from any evaluation set.
CALIBRATION: tuple[str, ...] = (
    "What time does the library open on Sunday?",
    "How long should I boil an egg for a soft yolk?",
    "Who painted the ceiling of the old chapel?",
    "Why did the train stop between the two stations?",
    "When is the next meeting of the neighbourhood association?",
    "Which bus goes to the airport from the city centre?",
    "How many players are on a volleyball team?",
    "What did the mayor say about the new bridge?",
    "Where can I buy fresh bread late in the evening?",
    "The museum will close early on Friday because of the holiday.",
    "Prices of fruit and vegetables rose sharply after the floods.",
    "The committee voted to postpone the decision until March.",
    "Thousands of workers marched through the capital on Tuesday.",
    "The company reported a loss of 12 million dollars in the third quarter.",
    "¿A qué hora abre la farmacia los domingos?",
    "¿Cuántos habitantes tiene la ciudad más grande del país?",
    "¿Quién ganó el concurso de cocina del año pasado?",
    "¿Por qué se suspendieron las clases en la escuela?",
    "¿Dónde se celebrará la feria del libro este año?",
    "¿Qué pidieron los vecinos al ayuntamiento?",
    "El gobierno anunció nuevas medidas para reducir la inflación.",
    "Miles de personas se reunieron en la plaza principal el sábado.",
    "La temporada de lluvias comenzó antes de lo previsto en el sur.",
    "El sindicato convocó una huelga de cuarenta y ocho horas.",
)


#: Everyday paragraphs, English and Spanish, of about a passage's length, on no archive's
#: subject: what the graph's activations look like over passages and their sentences, which
#: reach larger values than a question's. Written for this project, not taken from any
#: evaluation set.
PASSAGE_CALIBRATION: tuple[str, ...] = (
    "The community garden behind the old laundry opened its gates again in April, after a "
    "winter spent repairing the fences and the wooden sheds. Forty families now share the "
    "thirty-two plots, so some of them grow vegetables together and split the harvest at the "
    "end of each month. Tomatoes, beans and courgettes are the favourites, but one retired "
    "teacher has planted a row of sunflowers that already reaches the top of the wall. Water "
    "comes from two large tanks that collect the rain from the roof of the laundry; when they "
    "run dry in August, the volunteers bring cans from the tap in the playground. On Saturday "
    "mornings a small group teaches children how to sow seeds, how to tell a weed from a young "
    "carrot and why worms matter. Visitors are welcome between nine and noon, and the gardeners "
    "ask only that dogs stay on the lead and that nobody picks the strawberries without asking.",
    "Fixing a flat tyre on a bicycle takes about fifteen minutes once you have done it twice. "
    "First shift to the smallest gear, open the brake and take the wheel out of the frame. "
    "Push one tyre lever under the edge of the tyre, hook it to a spoke, then slide a second "
    "lever around the rim until one side comes free. Pull out the inner tube and pump a little "
    "air into it: the hole is usually easy to hear, or you can hold the tube in a bowl of "
    "water and watch for bubbles. Before fitting a patch or a new tube, run your fingers "
    "carefully along the inside of the tyre, because the thorn or the piece of glass that made "
    "the hole is often still there. Put the tube back with a little air in it, press the tyre "
    "onto the rim with your thumbs rather than the levers, and inflate it to the pressure "
    "written on its side. A spare tube, two levers and a small pump weigh less than 300 grams.",
    "My grandmother baked bread every Thursday for more than fifty years, and she never "
    "weighed anything. She mixed a kilo of flour, a spoon of salt and a piece of yesterday's "
    "dough with warm water until it stopped sticking to her hands, then left it under a cloth "
    "near the stove. In summer it rose in two hours; in January it could take the whole "
    "afternoon, and she would check it by pressing a finger into it. The loaves went into the "
    "village oven at six in the evening, together with those of the neighbours, each marked "
    "with a different sign cut into the crust. While they baked, the women talked about the "
    "weather, the price of eggs and who was going to marry whom. The smell reached the end of "
    "the street. When I try her method in my small flat, the bread is good but never quite the "
    "same, and I suspect the difference is the company rather than the oven.",
    "El mercado del barrio abre de martes a sábado desde las ocho de la mañana hasta las dos "
    "de la tarde, y los viernes también por la tarde. En la planta baja están las fruterías, "
    "las carnicerías y tres puestos de pescado que reciben el género cada madrugada desde el "
    "puerto. Arriba hay una cafetería pequeña, una tienda de especias y un taller donde "
    "arreglan zapatos y hacen copias de llaves. Muchos vecinos mayores prefieren comprar aquí "
    "porque los vendedores los conocen por su nombre, les guardan el pan y les suben la compra "
    "a casa si pesa demasiado. Desde el año pasado el ayuntamiento permite pagar con tarjeta "
    "en todos los puestos, aunque algunos todavía piden efectivo para importes pequeños. Los "
    "sábados se forma una cola larga en la charcutería, sobre todo antes de las fiestas, y "
    "conviene llegar temprano si se quiere encontrar buen queso de la sierra.",
    "Para preparar una tortilla de patatas para cuatro personas hacen falta seis huevos, "
    "cuatro patatas medianas, una cebolla, aceite de oliva y sal. Se pelan las patatas, se "
    "cortan en láminas finas y se fríen a fuego lento con la cebolla picada durante unos "
    "veinte minutos, hasta que estén tiernas pero sin dorarse demasiado. Mientras tanto se "
    "baten los huevos en un cuenco grande con una pizca de sal. Después se escurren las "
    "patatas, se mezclan con el huevo y se dejan reposar cinco minutos para que se empapen "
    "bien. La mezcla vuelve a la sartén con muy poco aceite y se cuaja a fuego medio. El "
    "momento más difícil es darle la vuelta: se coloca un plato grande encima, se gira la "
    "sartén con decisión y se desliza la tortilla otra vez al fuego. Hay quien la prefiere "
    "jugosa por dentro y quien la quiere bien hecha; en mi casa nunca nos hemos puesto de "
    "acuerdo.",
    "La ruta que sube desde el pueblo hasta el lago tiene unos nueve kilómetros y un desnivel "
    "de seiscientos metros, así que se tarda entre tres y cuatro horas en completarla a paso "
    "tranquilo. El camino empieza junto a la fuente de la plaza, cruza un puente de piedra y "
    "sigue por un bosque de hayas donde en otoño el suelo se cubre de hojas rojas. A mitad de "
    "recorrido hay un refugio con mesas y agua potable, buen sitio para descansar y comer algo. "
    "El último tramo es más empinado y tiene piedras sueltas, por lo que se recomienda llevar "
    "botas y no subir con niños muy pequeños. En el lago está prohibido bañarse y hacer fuego, "
    "pero se puede pasear por la orilla y observar aves. En invierno la nieve cierra el paso "
    "muchas semanas, y antes de salir conviene consultar el parte del tiempo en la oficina de "
    "turismo, que abre todos los días a las nueve.",
)


def smoothed_int8(
    graph: bytes,
    feeds: Callable[[str], dict[str, np.ndarray]],
    texts: tuple[str, ...] = CALIBRATION,
    migration: float = MIGRATION,
    excluded: list[str] | None = None,
    unsigned: bool | None = None,
) -> bytes:
    """`graph` (float32, its matrix products' weights as initializers) with each product's
    input smoothed by ranges measured on `texts` (`migration` of each channel's range moved
    into the weights) and every product in int8 (a weight scale per output channel) but the
    nodes named in `excluded`, which stay float32 unsmoothed. `feeds` turns a calibration text
    into the graph's inputs; `unsigned` as `int8_per_channel` takes it."""
    import onnx

    network = onnx.load_from_string(graph)
    readers = _weighted_products(network, set(excluded or ()))
    ranges = _input_ranges(network, list(readers), feeds, texts)
    _smooth(network, readers, ranges, migration)
    return int8_per_channel(network, excluded, unsigned)


#: x86 CPU features (as Linux names them) whose int8 dot products add u8 x s8 products in 32
#: bits: VNNI (AVX-512 or AVX) and AMX.
WIDE_INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
_X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})


def cpu_flags() -> frozenset[str] | None:
    """This CPU's feature flags from /proc/cpuinfo; None where they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        return None
    return None


def signed_weights_saturate(
    machine: str | None = None, flags: frozenset[str] | None = None
) -> bool:
    """Whether ONNX Runtime's products of u8 inputs by s8 weights may saturate here.

    On an x86 CPU without VNNI it multiplies them with VPMADDUBSW, which adds each pair of
    products in 16 bits and saturates when both are large; smoothed inputs fill their 8 bits,
    so they often are. Its u8 x u8 kernel widens to 16 bits first and cannot saturate, so
    there `int8_per_channel` quantises weights to u8 unless told otherwise. Measured on an AVX2
    CPU without VNNI (`scripts/bench/bench_int8.py`, 96 BBC paragraphs), the int8 passage
    graph's vectors reached a cosine with float32's of 0.99959 (least 0.99939) with s8 weights
    and 0.99980 (least 0.99973) with u8, as s8 does with VNNI
    (docs/benchmarks.md#int8-on-a-cpu-without-vnni). Where the flags cannot be read on x86,
    True, the choice that is exact everywhere; elsewhere (ARM's dot products widen) False."""
    machine = (machine if machine is not None else platform.machine()).lower()
    if machine not in _X86:
        return False
    flags = flags if flags is not None else cpu_flags()
    return flags is None or not (flags & WIDE_INT8_FLAGS)


def weights_tag() -> str:
    """Part of a quantised graph's cache key: a graph of u8 weights is another graph."""
    return "-u8" if signed_weights_saturate() else ""


def int8_per_channel(
    network, excluded: list[str] | None = None, unsigned: bool | None = None
) -> bytes:
    """`network` (an ONNX ModelProto) with every matrix product but the nodes named in
    `excluded` in int8: ONNX Runtime's dynamic quantisation, a weight scale per output
    channel (weights in s8, or in u8 where this CPU's s8 products would saturate:
    `signed_weights_saturate`; `unsigned` True or False chooses, for a benchmark), its advice
    kept off the console."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if unsigned is None:
        unsigned = signed_weights_saturate()
    with tempfile.TemporaryDirectory(prefix="qa-int8-") as folder:
        source, target = Path(folder) / "float32.onnx", Path(folder) / "int8.onnx"
        onnx.save(network, source)
        with quiet_quantiser():
            quantize_dynamic(
                source,
                target,
                weight_type=QuantType.QUInt8 if unsigned else QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=excluded or [],
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        return target.read_bytes()


class _QuantiserAdvice(logging.Filter):
    """Drops the quantiser's advice to pre-process the graph, which it logs on the root
    logger (and so on a user's console) whatever the graph."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


@contextmanager
def quiet_quantiser() -> Iterator[None]:
    """ONNX Runtime's quantiser without its advice on the console (while the block runs)."""
    advice = _QuantiserAdvice()
    logging.root.addFilter(advice)
    try:
        yield
    finally:
        logging.root.removeFilter(advice)


def _weighted_products(network, kept: set[str] = frozenset()) -> dict[str, list]:
    """Each input that MatMuls with a weight matrix read -> those MatMul nodes, but the
    products named in `kept` (which stay float32 and so need no smoothing)."""
    weights = {tensor.name for tensor in network.graph.initializer}
    readers: dict[str, list] = {}
    for node in network.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights and node.name not in kept:
            readers.setdefault(node.input[0], []).append(node)
    return readers


def _input_ranges(
    network,
    names: list[str],
    feeds: Callable[[str], dict[str, np.ndarray]],
    texts: tuple[str, ...] = CALIBRATION,
) -> dict[str, np.ndarray]:
    """max |x_j| of each named tensor's channels over `texts` (float32 graph)."""
    import onnx
    import onnxruntime

    probed = onnx.ModelProto()
    probed.CopyFrom(network)
    for name in names:
        probed.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    session = onnxruntime.InferenceSession(
        probed.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    ranges: dict[str, np.ndarray] = {}
    for text in texts:
        for name, values in zip(names, session.run(names, feeds(text)), strict=True):
            largest = np.abs(values).reshape(-1, values.shape[-1]).max(axis=0)
            ranges[name] = np.maximum(ranges[name], largest) if name in ranges else largest
    return ranges


def _smooth(
    network,
    readers: dict[str, list],
    ranges: dict[str, np.ndarray],
    migration: float = MIGRATION,
) -> None:
    """Divide each input's channels by s_j (a Mul before its first reader) and multiply the
    weight rows of every reader by s_j, in place."""
    from onnx import helper, numpy_helper

    weights = {tensor.name: tensor for tensor in network.graph.initializer}
    order = {id(node): place for place, node in enumerate(network.graph.node)}
    inserted: list[tuple[int, object]] = []
    for name, nodes in readers.items():
        matrices = [numpy_helper.to_array(weights[node.input[1]]) for node in nodes]
        weight_range = np.max([np.abs(matrix).max(axis=1) for matrix in matrices], axis=0)
        divisor = ranges[name] ** migration / np.maximum(weight_range, 1e-6) ** (1 - migration)
        divisor = np.clip(divisor, *DIVISOR_RANGE).astype(np.float32)
        reciprocal, smoothed = f"{name}/smoothing", f"{name}/smoothed"
        network.graph.initializer.append(numpy_helper.from_array(1 / divisor, reciprocal))
        for node, matrix in zip(nodes, matrices, strict=True):
            scaled = (matrix * divisor[:, None]).astype(np.float32)
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(scaled, node.input[1]))
            node.input[0] = smoothed
        divide = helper.make_node("Mul", [name, reciprocal], [smoothed], name=f"{name}/smooth")
        inserted.append((min(order[id(node)] for node in nodes), divide))
    nodes = list(network.graph.node)
    for place, divide in sorted(inserted, key=lambda pair: pair[0], reverse=True):
        nodes.insert(place, divide)
    del network.graph.node[:]
    network.graph.node.extend(nodes)
