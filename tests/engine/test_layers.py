"""The second-wave layers: transformers, depthwise CNNs, 1-D convs, embeddings."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.engine import ModelImportError, QuantizedModel
from accelsim.sram import uniform_profile


class RMSNormStyle(nn.Module):
    """A weight and a computed scale, written by hand (traced through by torch.fx)."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(dim))

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = RMSNormStyle(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.act = nn.GELU()
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.drop(self.proj(y.transpose(1, 2).contiguous().view(b, t, c)))
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


class TinyLM(nn.Module):
    def __init__(self, vocab=20, dim=16, context=12):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(0.1 * torch.randn(1, context, dim))
        self.blocks = nn.Sequential(Block(dim, 2), Block(dim, 2))
        self.mha = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.norm = nn.RMSNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, : idx.shape[1]]
        x = self.blocks(x)
        a, _ = self.mha(x, x, x, need_weights=False)
        return self.head(self.norm(x + a))


class TinyViT(nn.Module):
    def __init__(self, dim=16, patch=4, classes=10):
        super().__init__()
        self.embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls = nn.Parameter(0.1 * torch.randn(1, 1, dim))
        self.block = Block(dim, 4)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.block(x)
        return self.head(self.norm(x)[:, 0])


class TinyMobile(nn.Module):
    """Depthwise and grouped convs, Hardswish, a squeeze-excite multiply, BatchNorm1d, Conv1d."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pw = nn.Conv2d(8, 8, 1, groups=2)
        self.act = nn.Hardswish()
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8), nn.Sigmoid())
        self.conv1d = nn.Conv1d(8, 8, 3, padding=1)
        self.bn1d = nn.BatchNorm1d(8)
        self.silu = nn.SiLU()
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = self.act(self.stem(x))
        y = self.act(self.pw(self.act(self.bn(self.dw(x)))))
        y = y * self.se(y)[:, :, None, None] + x
        seq = self.silu(self.bn1d(self.conv1d(y.flatten(2))))
        a, b = torch.chunk(seq, 2, dim=2)
        pooled = torch.cat([a.mean(dim=2), torch.tanh(b).mean(dim=2)], dim=1)
        return torch.softmax(self.head(pooled), dim=1)


def _randomize_norms(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
            if isinstance(m, (nn.LayerNorm, nn.RMSNorm)):
                m.weight.uniform_(0.5, 1.5)
    return net.eval()


def _case(name):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if name == "lm":
        return _randomize_norms(TinyLM()), torch.randint(0, 20, (16, 12), generator=g)
    if name == "vit":
        return _randomize_norms(TinyViT()), torch.randn(16, 1, 8, 8, generator=g)
    return _randomize_norms(TinyMobile()), torch.randn(16, 1, 8, 8, generator=g)


CASES = ("lm", "vit", "mobile")


@pytest.fixture(scope="module")
def uniform():
    return uniform_profile(0.05)


@pytest.mark.parametrize("name", CASES)
def test_reference_module_equals_engine_bit_for_bit(name):
    net, x = _case(name)
    qm = QuantizedModel.from_torch(net, "rquant", x)
    with torch.inference_mode():
        expected = qm.reference_module()(x)
    assert torch.equal(qm.forward(x), expected)


@pytest.mark.parametrize("name", CASES)
def test_every_parameter_is_in_memory(name):
    net, x = _case(name)
    qm = QuantizedModel.from_torch(net, "rquant", x)
    assert set(qm.tensor_names) == {n for n, _ in net.named_parameters()}
    assert qm.stored_bits == 8 * sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", CASES)
def test_faulty_run_from_first_changed_layer_equals_full_run(name, uniform):
    net, x = _case(name)
    qm = QuantizedModel.from_torch(net, "rquant", x)
    vdd_v = uniform.voltage_for_ber(2e-3)
    for chip in range(4):
        result = qm.evaluator(x, uniform, chip=chip).run(vdd_v)
        full = qm.forward(x, qm.patched_weights(*_changed(qm, uniform, vdd_v, chip)))
        assert torch.equal(result.logits, full)
        if result.changed_tensors:
            assert result.first_step == qm._program.first_step_reading(result.changed_tensors)


def _changed(qm, profile, vdd_v, chip):
    read = qm.memory(profile).read_sparse(vdd_v, chip)
    differs = read.words != qm.words[read.word_index]
    names = qm.tensors_at_bits(read.fault_bits[differs])
    return read.word_index[differs], read.words[differs], names


def test_late_fault_reruns_only_the_suffix(uniform):
    net, x = _case("lm")
    qm = QuantizedModel.from_torch(net, "rquant", x)
    head = qm.tensor_names.index("head.weight")
    lo = int(qm._word_offsets[head])
    words = qm.words[lo:lo + 1] ^ 0x80
    weights = qm.patched_weights(torch.tensor([lo]).numpy(), words, ("head.weight",))
    first = qm._program.first_step_reading(("head.weight",))
    assert first == len(qm._program.steps) - 2
    clean = qm.clean_run(x)
    assert torch.equal(clean.run_from(first, weights), qm.forward(x, weights))


def test_workloads_cover_new_layer_kinds():
    net, x = _case("lm")
    kinds = {w.kind for w in QuantizedModel.from_torch(net, "rquant", x).workloads()}
    assert {"embedding", "param", "norm", "linear", "attention"} <= kinds


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 4)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.sort(self.fc(x), dim=-1).values + torch.cumsum(x, 0)


def test_every_unsupported_node_is_listed():
    net = nn.Sequential(nn.Linear(4, 4), nn.PReLU(), nn.LSTM(4, 4))
    with pytest.raises(ModelImportError) as info:
        QuantizedModel.from_torch(net, "rquant", torch.randn(2, 4))
    message = str(info.value)
    assert "PReLU" in message and "LSTM" in message and "2 part(s)" in message
    with pytest.raises(ModelImportError) as info:
        QuantizedModel.from_torch(Unsupported(), "rquant", torch.randn(2, 4))
    assert "sort" in str(info.value) and "cumsum" in str(info.value)


class TiedLM(nn.Module):
    """An LM head sharing the embedding table (read as a module and as a parameter)."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(10, 8)
        self.head = nn.Linear(8, 10, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, idx):
        x = self.tok(idx)
        return self.head(x) + F.linear(x, self.tok.weight)


def test_tied_weights_are_stored_once_and_faults_reach_every_reader(uniform):
    torch.manual_seed(0)
    net, x = TiedLM().eval(), torch.randint(0, 10, (4, 5), generator=torch.Generator().manual_seed(0))
    qm = QuantizedModel.from_torch(net, "int8", x)
    assert qm.tensor_names == ("tok.weight",)
    with torch.inference_mode():
        assert torch.equal(qm.reference_module()(x), qm.forward(x))
    faulty = dict(qm.clean_weights)
    faulty["tok.weight"] = faulty["tok.weight"] * 2
    assert torch.equal(qm.forward(x, faulty), 4 * qm.forward(x))  # table and head both doubled


def test_import_does_not_copy_the_users_parameters():
    net, x = _case("vit")
    qm = QuantizedModel.from_torch(net, "rquant", x)
    private = {p.data_ptr() for p in qm._module.parameters()}
    assert private == {w.data_ptr() for w in qm.clean_weights.values()}
    assert not private & {p.data_ptr() for p in net.parameters()}


@pytest.mark.parametrize("scheme", ["rquant", "normal", "int8", "int4", "fp16", "bf16", "fp8-e5m2"])
def test_in_place_faulty_reads_equal_the_copying_path(scheme, uniform, monkeypatch):
    from accelsim.engine import sparse

    net, x = _case("lm")
    qm = QuantizedModel.from_torch(net, scheme, x)
    vdd_v = uniform.voltage_for_ber(3e-3)
    expected = [qm.evaluator(x, uniform, chip=c).run(vdd_v) for c in range(3)]
    monkeypatch.setattr(sparse, "LARGE_MODEL_WORD_BYTES", 1)
    clean = {k: v.clone() for k, v in qm.clean_weights.items()}
    for chip, want in enumerate(expected):
        got = qm.evaluator(x, uniform, chip=chip).run(vdd_v)
        torch.testing.assert_close(got.logits, want.logits, rtol=0, atol=0, equal_nan=True)
        assert (got.flipped_bits, got.faulty_cells, got.first_step, got.nonfinite_weights) == (
            want.flipped_bits, want.faulty_cells, want.first_step, want.nonfinite_weights)
        assert set(got.changed_tensors) == set(want.changed_tensors)
    assert all(torch.equal(clean[k], v) for k, v in qm.clean_weights.items())  # restored
