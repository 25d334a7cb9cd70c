"""Protection of the stored words: parity, SECDED, protected MSBs; bit-exact reads.

A protection scheme changes how a memory's words are laid into cells and how
a read is decoded. It is named by a string (``DESIGN.md``, "Second wave"):

``none``
    The words as they are (:class:`~accelsim.sram.SimulatedMemory`).
``parity:N``
    The word stream is cut into codewords of ``N`` data bits (N in 8, 16,
    32, 64) plus one even-parity bit, stored in the same faulty array. An odd
    number of wrong bits is detected; an even number passes silently.
``secded:N``
    Extended Hamming codes (13,8), (22,16), (39,32), (72,64): Hamming
    positions ``1..N+r`` (check bits at the powers of two) plus an overall
    parity bit at position 0, all stored in the faulty array. The decoder
    corrects any single error, detects any double error, and for three or
    more acts like a hardware decoder: an odd count is "corrected" at the
    position the syndrome names (a mis-correction when that is wrong, or a
    detection when the syndrome names no position of the shortened code); a
    non-zero syndrome with even parity is detected; a zero syndrome with even
    parity (a codeword) passes silently.
``msb:K``
    The top ``K`` bits of every word live in a separate array at nominal
    voltage (never faulty); the faulty array stores the low bits only.
``msb:K:tmr``
    The top ``K`` bits are stored three times in the faulty array (the word
    grows by ``2K`` bits) and read by a bitwise majority vote.

Codewords follow the data bit stream (stream bit ``k * word_bits + j`` is
bit ``j`` of word ``k``); the last codeword is padded with zeros. A word can
straddle two codewords when ``word_bits`` does not divide ``N``.

Counters of a read (:class:`ProtectedRead`): ``faulty_cells`` and
``flipped_bits`` count the cells of the faulty array (check bits and TMR
copies included); ``corrected_words``: codewords (TMR: words) in which the
decoder changed bits and delivered the written data; ``detected_words``:
codewords flagged uncorrectable; ``miscorrected_words``: codewords delivered
without a flag but with wrong data (a wrong correction, or an error pattern
the code cannot see, e.g. an even count under parity; for ``msb:K:tmr``, a
vote lost 2 to 1); ``residual_flipped_bits``: data bits delivered that differ
from the written ones (under ``on_detect="zero"`` the detected words are
zeroed by the engine and counted in ``detected_words`` only; under ``keep``
their raw data bits count here). Only codewords holding a wrong cell are
decoded: the rest decode to themselves.

Attacker's flips (``read_with_flips``, :func:`decode_flipped`): chosen
stored bits are flipped in the cells (rowhammer), then the faults of the
read apply and the decoder decodes, so it sees the attacker's flips as it
sees faults. The attacker's bit index runs over the stored stream
(:func:`stored_stream_bits`): for a code, bit ``c * n + p`` is Hamming
position ``p`` of codeword ``c`` (check bits and the last codeword's padding
included); for ``msb:K``, bit ``k * word_bits + j`` of the data words (the
top ``K`` bits live in the nominal array: no fault reaches them, but an
attacker flips stored bits whatever the voltage); for ``msb:K:tmr``, bit
``k * (word_bits + 2K) + j`` of the stored words (a flip of one copy of a top
bit is outvoted, flips of two copies of the same bit win the vote).
"""

import re
from dataclasses import dataclass

import numpy as np

from accelsim._checks import StrOptions, check
from accelsim._errors import UserInputError
from accelsim.sram.cells import FLIP
from accelsim.sram.memory import SimulatedMemory, flip_stream_bits
from accelsim.sram.protection import _kernels

__all__ = [
    "DECODER_ENERGY_J",
    "ON_DETECT",
    "SECDED_DATA_BITS",
    "ProtectedMemory",
    "ProtectedRead",
    "Protection",
    "ProtectionError",
    "check_on_detect",
    "decode_flipped",
    "encode_codewords",
    "hamming_layout",
    "parse_protection",
    "reference_decode",
    "stored_stream_bits",
]

SECDED_DATA_BITS = (8, 16, 32, 64)
ON_DETECT = ("keep", "zero")
_PATTERN = re.compile(r"^(none|parity:(\d+)|secded:(\d+)|msb:(\d+)(:tmr)?)$")

# Decoder energy per codeword read, in joules: a documented estimate, not a
# measurement. A syndrome tree of about n*r/2 two-input XORs plus an n-to-1
# correction decoder; at ~1 fJ per XOR/AND-gate switch in a 22-45 nm node
# this gives the figures below (same order as Salami et al.'s and published
# SECDED decoder syntheses, ~0.5-2 pJ for (72,64)). Parity: an N-input XOR
# tree. TMR: one 3-input majority gate per protected bit. Overridable in the
# accelerator TOML (``[decoder_energy_j]``, keys as the protection strings).
DECODER_ENERGY_J = {
    "parity:8": 0.008e-12, "parity:16": 0.016e-12, "parity:32": 0.032e-12,
    "parity:64": 0.064e-12,
    "secded:8": 0.05e-12, "secded:16": 0.12e-12, "secded:32": 0.3e-12, "secded:64": 0.7e-12,
    "msb:tmr": 0.003e-12,  # per protected bit of a word
}


class ProtectionError(UserInputError):
    """A protection scheme or detected-word policy that does not exist or does not fit."""


@dataclass(frozen=True)
class Protection:
    """A parsed protection string.

    Attributes
    ----------
    kind : str
        ``none``, ``parity``, ``secded`` or ``msb``.
    data_bits : int
        Data bits per codeword (parity, secded); 0 otherwise.
    msb_bits : int
        K of ``msb:K``; 0 otherwise.
    tmr : bool
        ``msb:K:tmr``.
    """

    kind: str = "none"
    data_bits: int = 0
    msb_bits: int = 0
    tmr: bool = False

    @property
    def name(self):
        """The canonical string (``secded:64``, ``msb:2:tmr``, ``none``)."""
        if self.kind in ("parity", "secded"):
            return f"{self.kind}:{self.data_bits}"
        if self.kind == "msb":
            return f"msb:{self.msb_bits}" + (":tmr" if self.tmr else "")
        return "none"

    def __str__(self):
        return self.name

    @property
    def check_bits(self):
        """Check bits per codeword (0 without a code)."""
        if self.kind == "parity":
            return 1
        if self.kind == "secded":
            return {8: 5, 16: 6, 32: 7, 64: 8}[self.data_bits]
        return 0

    def check_word_bits(self, word_bits):
        """Raise :class:`ProtectionError` if the scheme cannot protect words of ``word_bits``."""
        if self.kind == "msb" and self.msb_bits > word_bits:
            raise ProtectionError(
                f"protection = {self.name!r}: expected K <= {word_bits}, the bits of a stored word")

    def faulty_bits_per_word(self, word_bits):
        """Bits of the faulty (swept) array per data word (fractional for codes)."""
        if self.kind in ("parity", "secded"):
            return word_bits * (self.data_bits + self.check_bits) / self.data_bits
        if self.kind == "msb":
            return word_bits + 2 * self.msb_bits if self.tmr else word_bits - self.msb_bits
        return float(word_bits)

    def nominal_bits_per_word(self, word_bits):
        """Bits per data word kept in a protected array at nominal voltage."""
        return self.msb_bits if self.kind == "msb" and not self.tmr else 0

    def decoder_energy_j(self, n_words, word_bits, table=None):
        """Decoder energy of reading ``n_words`` data words once (joules)."""
        table = DECODER_ENERGY_J if table is None else {**DECODER_ENERGY_J, **table}
        if self.kind in ("parity", "secded"):
            codewords = -(-(n_words * word_bits) // self.data_bits)
            return codewords * table[self.name]
        if self.kind == "msb" and self.tmr:
            return n_words * self.msb_bits * table["msb:tmr"]
        return 0.0


def parse_protection(text):
    """Parse a protection string into a :class:`Protection`.

    Raises
    ------
    ProtectionError
        For an unknown name, an unsupported data width or K < 1.
    """
    if isinstance(text, Protection):
        return text
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ProtectionError(
            f"protection = {text!r}: expected none, parity:N, secded:N (N in 8, 16, 32, 64), "
            "msb:K or msb:K:tmr")
    if match[1] == "none":
        return Protection()
    if match[2] is not None or match[3] is not None:
        kind, n = ("parity", int(match[2])) if match[2] is not None else ("secded", int(match[3]))
        if n not in SECDED_DATA_BITS:
            raise ProtectionError(
                f"protection = {text!r}: expected a data width N in 8, 16, 32, 64 "
                f"(no {kind} code over {n} bits)")
        return Protection(kind, data_bits=n)
    k = int(match[4])
    if k < 1:
        raise ProtectionError(f"protection = {text!r}: expected K >= 1 protected bits")
    return Protection("msb", msb_bits=k, tmr=bool(match[5]))


def check_on_detect(on_detect):
    """The policy for detected words, checked (``keep`` or ``zero``)."""
    return check("on_detect", on_detect, StrOptions(ON_DETECT), error=ProtectionError,
                 meaning="what a detected-uncorrectable word reads as")


# -- codes ---------------------------------------------------------------------------------


def hamming_layout(protection):
    """``(n, data_of_pos)``: codeword length and the data bit held at each position (-1: check)."""
    if protection.kind == "parity":
        n = protection.data_bits + 1
        return n, np.concatenate([[-1], np.arange(protection.data_bits)]).astype(np.int64)
    r = protection.check_bits - 1
    n = protection.data_bits + r + 1
    data_of_pos = np.full(n, -1, np.int64)
    positions = [p for p in range(1, n) if p & (p - 1)]
    data_of_pos[positions] = np.arange(len(positions))
    return n, data_of_pos


def encode_codewords(data_bits, protection):
    """Codewords (rows of 0/1 uint8, ``n`` columns) of data rows of ``N`` bits."""
    n, data_of_pos = hamming_layout(protection)
    data_bits = np.asarray(data_bits, np.uint8)
    code = np.zeros((data_bits.shape[0], n), np.uint8)
    data_positions = np.flatnonzero(data_of_pos >= 0)
    code[:, data_positions] = data_bits[:, data_of_pos[data_positions]]
    if protection.kind == "secded":
        for i in range(protection.check_bits - 1):
            covered = [p for p in data_positions if p >> i & 1]
            code[:, 1 << i] = np.bitwise_xor.reduce(code[:, covered], axis=1)
    code[:, 0] = np.bitwise_xor.reduce(code[:, 1:], axis=1)
    return code


def reference_decode(read_bits, protection):
    """Dense reference decoder (plain NumPy, every codeword).

    Parameters
    ----------
    read_bits : ndarray of uint8, shape (C, n)
        Codewords as read.
    protection : Protection
        ``parity:N`` or ``secded:N``.

    Returns
    -------
    data : ndarray of uint8, shape (C, N)
        The data bits the decoder delivers (raw data for detected words).
    detected : ndarray of bool, shape (C,)
    corrected : ndarray of bool, shape (C,)
        Whether the decoder changed a bit.
    """
    n, data_of_pos = hamming_layout(protection)
    bits = np.array(read_bits, np.uint8, copy=True)
    parity = np.bitwise_xor.reduce(bits, axis=1).astype(bool)
    if protection.kind == "parity":
        detected, corrected = parity, np.zeros(len(bits), bool)
    else:
        weights = np.arange(n, dtype=np.int64)
        syndrome = np.bitwise_xor.reduce(np.where(bits == 1, weights, 0), axis=1)
        detected = (parity & (syndrome >= n)) | (~parity & (syndrome != 0))
        corrected = parity & (syndrome < n)
        rows = np.flatnonzero(corrected)
        bits[rows, syndrome[rows]] ^= 1
    data_positions = np.flatnonzero(data_of_pos >= 0)
    data = np.empty((len(bits), len(data_positions)), np.uint8)
    data[:, data_of_pos[data_positions]] = bits[:, data_positions]
    return data, detected, corrected


def _words_to_bits(words, word_bits):
    """Stream bits of ``words`` (bit ``j`` of word ``k`` at ``k * word_bits + j``), one byte each."""
    as_bytes = words.astype(words.dtype.newbyteorder("<"), copy=False).view(np.uint8)
    bits = np.unpackbits(as_bytes.reshape(words.size, -1), axis=1, bitorder="little")
    return np.ascontiguousarray(bits[:, :word_bits]).reshape(-1)


# -- memory --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProtectedRead:
    """The data words as delivered by a protected read at one voltage.

    Attributes
    ----------
    word_index : ndarray of int64
        Data words whose delivered value differs from the written one
        (ascending, unique).
    words : ndarray
        Their delivered values.
    detected_index : ndarray of int64
        Data words with a bit in a detected-uncorrectable codeword
        (ascending, unique); under ``on_detect="zero"`` the engine reads
        their weights as zero.
    faulty_cells, flipped_bits : int
        Faulty cells of the faulty array and the stored bits that read wrong
        (check bits and copies included).
    corrected_words, detected_words, miscorrected_words, residual_flipped_bits : int
        See the module docs.
    tiled : bool
    """

    word_index: np.ndarray
    words: np.ndarray
    detected_index: np.ndarray
    faulty_cells: int
    flipped_bits: int
    corrected_words: int
    detected_words: int
    miscorrected_words: int
    residual_flipped_bits: int
    tiled: bool


class ProtectedMemory:
    """Words stored under a protection scheme in a profile's chip.

    The faulty (swept) array holds the encoded stream; a read decodes the
    codewords that hold a faulty cell and returns the data words that differ.

    Parameters
    ----------
    profile : Profile
    words : ndarray
        1-D unsigned data words (their low ``word_bits`` bits are data).
    word_bits : int
    protection : str or Protection
        Not ``none`` (use :class:`SimulatedMemory`).
    seed : int, default 0
    """

    def __init__(self, profile, words, word_bits, protection, *, seed=0):
        self._data = SimulatedMemory(profile, words, word_bits).words  # validates
        self._word_bits = int(word_bits)
        self.protection = parse_protection(protection)
        if self.protection.kind == "none":
            raise ProtectionError("protection = 'none': use SimulatedMemory for unprotected words")
        self.protection.check_word_bits(self._word_bits)
        self._profile = profile
        self._inner = None
        p = self.protection
        if p.kind in ("parity", "secded"):
            self._n, self._data_of_pos = hamming_layout(p)
            bits = _words_to_bits(self._data, self._word_bits)
            self._n_data_bits = bits.size
            codewords = -(-bits.size // p.data_bits)
            padded = np.zeros(codewords * p.data_bits, np.uint8)
            padded[:bits.size] = bits
            stream = encode_codewords(padded.reshape(codewords, p.data_bits), p).reshape(-1)
            self._inner = SimulatedMemory(profile, stream, 1, seed=seed)
            self._stored_bits = {}  # chip -> stored bit of each placement entry
            self._head = np.full(codewords, -1, np.int64)  # decoder scratch, all -1 between reads
            self._scratch = self._data.copy()  # equals the data between reads
            self._marker = np.zeros(self._data.size, np.uint8)  # all zero between reads
        elif p.kind == "msb":
            b, k = self._word_bits, p.msb_bits
            self._top_mask = ((1 << k) - 1) << (b - k)
            if p.tmr or k < b:
                stored, stored_bits = _msb_stored(self._data, b, p)
                self._inner = SimulatedMemory(profile, stored, stored_bits, seed=seed)
            # k == b: every bit at nominal; no faulty array at all.

    @property
    def profile(self):
        return self._profile

    @property
    def words(self):
        """The data words (read-only)."""
        return self._data

    @property
    def word_bits(self):
        return self._word_bits

    @property
    def stored_bits(self):
        """Bits of the faulty (swept) array."""
        return 0 if self._inner is None else self._inner.n_bits

    n_bits = stored_bits

    @property
    def nominal_bits(self):
        """Bits kept at nominal voltage (``msb:K``)."""
        return self._data.size * self.protection.nominal_bits_per_word(self._word_bits)

    def faulty_cells(self, vdd_v, chip=0):
        """Faulty cells of the faulty array at ``vdd_v`` on ``chip``."""
        if self._inner is None:
            self._profile.check_voltage(vdd_v)
            return 0
        return self._inner.faulty_cells(vdd_v, chip)

    def read(self, vdd_v, chip=0, on_detect="zero"):
        """Read and decode at ``vdd_v`` on ``chip``.

        Parameters
        ----------
        vdd_v : float
        chip : int, default 0
        on_detect : {"zero", "keep"}
            ``keep`` delivers the raw data bits of a detected word (and counts
            its wrong bits as residual); ``zero`` leaves that to the engine.

        Returns
        -------
        ProtectedRead

        Not safe to call from several threads at once on one memory (the
        decoder patches and restores private scratch arrays).
        """
        keep = check_on_detect(on_detect) == "keep"
        p = self.protection
        if self._inner is None:
            self._profile.check_voltage(vdd_v)
            empty = np.empty(0, np.int64)
            return ProtectedRead(empty, self._data[:0], empty, 0, 0, 0, 0, 0, 0, False)
        if p.kind in ("parity", "secded"):
            return self._read_code(vdd_v, chip, keep)
        return self._read_msb(vdd_v, chip)

    def _read_code(self, vdd_v, chip, keep):
        n_faulty, placement, stored_bit = self._placed(vdd_v, chip)
        data_flips, detected, counts, n_faulty, flipped = _kernels.protected_read(
            stored_bit, placement.neg_v_fail_v, -float(vdd_v), placement.fault_bits,
            placement.fault_kind, placement.errs, self._n, self._data_of_pos, self._n_data_bits,
            self.protection.kind == "secded", keep, self._head)
        return self._delivered(data_flips, detected, counts, n_faulty, flipped, placement.tiled)

    def _placed(self, vdd_v, chip):
        """Faulty-prefix length, placement and stored bit of each placement entry (cached per chip)."""
        inner = self._inner
        n_faulty = inner.faulty_cells(vdd_v, chip)  # checks the voltage and the chip
        placement = inner.placement(chip)
        stored_bit = self._stored_bits.get(chip)
        if stored_bit is None or stored_bit[0] is not placement:
            if len(self._stored_bits) >= 64:
                del self._stored_bits[next(iter(self._stored_bits))]
            self._stored_bits[chip] = stored_bit = (placement, inner.words[placement.fault_bits])
        return n_faulty, placement, stored_bit[1]

    def _delivered(self, data_flips, detected, counts, n_faulty, flipped, tiled):
        word_index, words, detected_index = _kernels.deliver(
            self._data, self._scratch, self._marker, data_flips, self._word_bits, detected,
            self.protection.data_bits)
        return ProtectedRead(word_index, words, detected_index, int(n_faulty), int(flipped),
                             int(counts[0]), int(counts[1]), int(counts[2]), int(counts[3]),
                             bool(tiled))

    def masked_bits(self, vdd_v, chip=0):
        """Stored bits (attacker's index) on stuck cells that err at ``vdd_v``, ascending.

        An attacker's flip there is masked: the cell reads its stuck value
        whatever it holds.
        """
        if self._inner is None:
            self._profile.check_voltage(vdd_v)
            return np.empty(0, np.int64)
        n = self._inner.faulty_cells(vdd_v, chip)
        placement = self._inner.placement(chip)
        stuck = (placement.fault_kind[:n] != FLIP) & placement.errs[:n]
        return self._to_attack_index(np.sort(placement.fault_bits[:n][stuck]))

    def weak_bits(self, vdd_v, chip=0):
        """Stored bits (attacker's index) in cells faulty at ``vdd_v`` on ``chip``, ascending."""
        if self._inner is None:
            self._profile.check_voltage(vdd_v)
            return np.empty(0, np.int64)
        n = self._inner.faulty_cells(vdd_v, chip)
        return self._to_attack_index(np.unique(self._inner.placement(chip).fault_bits[:n]))

    def _to_attack_index(self, inner_bits):
        """Stream positions of the faulty array as the attacker's stored-bit index."""
        inner_bits = np.asarray(inner_bits, np.int64)
        p = self.protection
        if p.kind == "msb" and not p.tmr:
            low = self._word_bits - p.msb_bits
            word, j = np.divmod(inner_bits, low)
            return word * self._word_bits + j
        return inner_bits

    def error_bits(self, vdd_v, chip, flips):
        """Stored bits that read wrong after the attacker flipped ``flips`` (ascending), and the faulty cells.

        For a code: the faults' wrong bits, toggled by the flips that land
        outside masked (stuck, erring) cells. For ``msb:K:tmr``: the bits of
        the stored words (copies included) that read wrong. Not for
        ``msb:K`` (its nominal array is no stored stream of one array).
        """
        p = self.protection
        if p.kind == "msb":
            if not p.tmr:
                raise ProtectionError(f"error_bits: {p.name} stores its words in two arrays; use read_with_flips")
            read = self._inner.read_with_flips(vdd_v, chip, np.asarray(flips, np.int64))
            differs = read.words ^ self._inner.words
            index = np.flatnonzero(differs)
            width = self._inner.word_bits
            bits = (differs[index, None].astype(np.uint64) >> np.arange(width, dtype=np.uint64)) & np.uint64(1)
            rows, cols = np.nonzero(bits)
            return index[rows] * width + cols, int(read.faulty_cells)
        n_faulty, placement, stored_bit = self._placed(vdd_v, chip)
        faults, n_faulty = _kernels.read_flips_placed(
            stored_bit, placement.neg_v_fail_v, -float(vdd_v), placement.fault_bits,
            placement.fault_kind, placement.errs)
        stuck = (placement.fault_kind[:n_faulty] != FLIP) & placement.errs[:n_faulty]
        landed = np.setdiff1d(np.asarray(flips, np.int64), placement.fault_bits[:n_faulty][stuck])
        return np.setxor1d(faults, landed), int(n_faulty)

    def read_with_flips(self, vdd_v, chip, flips, on_detect="zero"):
        """Read and decode at ``vdd_v`` after an attacker flipped the stored bits ``flips``.

        Parameters
        ----------
        vdd_v : float
        chip : int
        flips : ndarray of int64
            Distinct stored-bit indices in ``[0, stored_stream_bits(...))``
            (see the module docs; the caller checks them).
        on_detect : {"zero", "keep"}

        Returns
        -------
        ProtectedRead
            As :meth:`read`; ``flipped_bits`` counts every stored bit read
            differently from the written one (the attacker's included, in the
            nominal array of ``msb:K`` too).
        """
        keep = check_on_detect(on_detect) == "keep"
        p = self.protection
        flips = np.asarray(flips, np.int64)
        if p.kind in ("parity", "secded"):
            errors, n_faulty = self.error_bits(vdd_v, chip, flips)
            data_flips, detected, counts = _kernels.decode_flips(
                errors, self._n, self._data_of_pos, self._n_data_bits, p.kind == "secded", keep, self._head)
            tiled = self._inner.placement(chip).tiled
            return self._delivered(data_flips, detected, counts, n_faulty, errors.size, tiled)
        b, k = self._word_bits, p.msb_bits
        if self._inner is None:  # every bit at nominal
            self._profile.check_voltage(vdd_v)
            return _msb_flipped(self._data, b, p, flips)
        if p.tmr:
            read = self._inner.read_with_flips(vdd_v, chip, flips)
            index = np.flatnonzero(read.words != self._inner.words)
            return _msb_deliver(self._data, b, p, index, read.words[index], read.faulty_cells,
                                read.flipped_bits, read.tiled)
        word, j = np.divmod(flips, b)
        low = j < b - k
        read = self._inner.read_with_flips(vdd_v, chip, word[low] * (b - k) + j[low])
        top = flip_stream_bits(self._data, b, flips[~low]) & self._data.dtype.type(self._top_mask)
        value = top | read.words.astype(self._data.dtype)
        index = np.flatnonzero(value != self._data)
        return _msb_deliver(self._data, b, p, index, value[index], read.faulty_cells,
                            read.flipped_bits + int(np.count_nonzero(~low)), read.tiled)

    def _read_msb(self, vdd_v, chip):
        read = self._inner.read_sparse(vdd_v, chip)
        index, first = np.unique(read.word_index, return_index=True)
        raw = read.words[first]
        if not self.protection.tmr:  # the low bits; the top ones come from the nominal array
            top = self._data[index] & self._data.dtype.type(self._top_mask)
            raw = top | raw.astype(self._data.dtype)
        return _msb_deliver(self._data, self._word_bits, self.protection, index.astype(np.int64), raw,
                            read.faulty_cells, read.flipped_bits, read.tiled)


def stored_stream_bits(n_words, word_bits, protection):
    """Stored bits an attacker can flip: ``n_words`` data words of ``word_bits`` under ``protection``.

    ``none`` and ``msb:K``: the data bits (the nominal array's included);
    ``parity:N``, ``secded:N``: every codeword's cells (check bits and the
    last codeword's padding included); ``msb:K:tmr``: the stored words with
    their two extra copies of the top bits.
    """
    p = parse_protection(protection)
    if p.kind in ("parity", "secded"):
        codewords = -(-(int(n_words) * int(word_bits)) // p.data_bits)
        return codewords * (p.data_bits + p.check_bits)
    if p.kind == "msb" and p.tmr:
        return int(n_words) * (int(word_bits) + 2 * p.msb_bits)
    return int(n_words) * int(word_bits)


def decode_flipped(words, word_bits, protection, flips, on_detect="zero"):
    """A fault-free protected read after an attacker flipped the stored bits ``flips``.

    Parameters
    ----------
    words : ndarray
        The data words written (1-D unsigned).
    word_bits : int
    protection : str or Protection
        Not ``none``.
    flips : ndarray of int64
        Distinct stored-bit indices in ``[0, stored_stream_bits(...))`` (the
        caller checks them; see the module docs for the index).
    on_detect : {"zero", "keep"}

    Returns
    -------
    ProtectedRead
        No faulty cells; the decoder's counters count what the flips did.
    """
    keep = check_on_detect(on_detect) == "keep"
    p = parse_protection(protection)
    if p.kind == "none":
        raise ProtectionError("protection = 'none': flip the words themselves (accelsim.sram.memory)")
    p.check_word_bits(word_bits)
    flips = np.asarray(flips, np.int64)
    if p.kind == "msb":
        return _msb_flipped(words, word_bits, p, flips)
    n, data_of_pos = hamming_layout(p)
    n_data_bits = words.size * word_bits
    head = np.full(-(-n_data_bits // p.data_bits), -1, np.int64)
    data_flips, detected, counts = _kernels.decode_flips(np.sort(flips), n, data_of_pos, n_data_bits,
                                                         p.kind == "secded", keep, head)
    word_index, delivered, detected_index = _kernels.deliver(
        words, words.copy(), np.zeros(words.size, np.uint8), data_flips, word_bits, detected, p.data_bits)
    return ProtectedRead(word_index, delivered, detected_index, 0, int(flips.size), int(counts[0]),
                         int(counts[1]), int(counts[2]), int(counts[3]), False)


def _msb_stored(data, word_bits, protection):
    """``(stored words, stored word bits)`` of the faulty array of ``msb:K`` or ``msb:K:tmr``."""
    b, k = word_bits, protection.msb_bits
    width = b + 2 * k if protection.tmr else b - k
    dtype = np.uint64 if width > 32 else np.uint32 if width > 16 else np.uint16 if width > 8 else np.uint8
    if protection.tmr:
        top = data.astype(np.uint64) >> np.uint64(b - k)
        stored = data.astype(np.uint64) | (top << np.uint64(b)) | (top << np.uint64(b + k))
        return stored.astype(dtype), width
    return (data & data.dtype.type((1 << (b - k)) - 1)).astype(dtype), width


def _msb_flipped(data, word_bits, protection, flips):
    """A fault-free ``msb:K`` / ``msb:K:tmr`` read with the stored bits ``flips`` flipped."""
    if protection.tmr:
        stored, width = _msb_stored(data, word_bits, protection)
        raw = flip_stream_bits(stored, width, flips)
        index = np.flatnonzero(raw != stored)
        return _msb_deliver(data, word_bits, protection, index, raw[index], 0, int(flips.size), False)
    value = flip_stream_bits(data, word_bits, flips)
    index = np.flatnonzero(value != data)
    return _msb_deliver(data, word_bits, protection, index, value[index], 0, int(flips.size), False)


def _msb_deliver(data, word_bits, protection, index, raw, faulty_cells, flipped_bits, tiled):
    """The :class:`ProtectedRead` of words ``index`` read as ``raw`` (stored layout; TMR voted)."""
    b, k = word_bits, protection.msb_bits
    index = np.asarray(index, np.int64)
    raw = np.asarray(raw).astype(np.uint64)
    written = data[index].astype(np.uint64)
    corrected = miscorrected = 0
    if protection.tmr:
        mask = np.uint64((1 << k) - 1)
        copy1 = (raw >> np.uint64(b - k)) & mask
        copy2 = (raw >> np.uint64(b)) & mask
        copy3 = (raw >> np.uint64(b + k)) & mask
        vote = (copy1 & copy2) | (copy1 & copy3) | (copy2 & copy3)
        value = (raw & np.uint64((1 << (b - k)) - 1)) | (vote << np.uint64(b - k))
        top_written = written >> np.uint64(b - k)
        raw_wrong = (copy1 != top_written) | (copy2 != top_written) | (copy3 != top_written)
        vote_wrong = vote != top_written
        miscorrected = int(np.count_nonzero(vote_wrong))
        corrected = int(np.count_nonzero(raw_wrong & ~vote_wrong))
    else:
        value = raw
    differs = value != written
    residual = int(_popcount(value[differs] ^ written[differs]).sum())
    empty = np.empty(0, np.int64)
    return ProtectedRead(index[differs], value[differs].astype(data.dtype), empty, int(faulty_cells),
                         int(flipped_bits), corrected, 0, miscorrected, residual, bool(tiled))


def _popcount(values):
    values = values.astype(np.uint64)
    count = np.zeros(values.shape, np.int64)
    while values.any():
        count += (values & np.uint64(1)).astype(np.int64)
        values = values >> np.uint64(1)
    return count
