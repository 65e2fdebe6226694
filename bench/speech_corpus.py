"""Recorded human speech with transcripts, from Debian packages (no model hub, no download site).

- `asterisk`: Asterisk's English prompts (`asterisk-core-sounds-en-gsm`, one professional speaker,
  GSM at 8 kHz as a phone line carries it), transcripts from `asterisk-core-sounds-en`'s
  core-sounds-en.txt. Every digit, day and month (the one-word answers callers give) and every
  fifth prompt of at most 16 words.
- `pocketsphinx`: `pocketsphinx-testdata`: five speakers reading playing cards ("five five"),
  LibriVox read sentences, "go forward ten meters" and a TIDIGITS digit string, 16 kHz.
- `alsa`: `alsa-utils`' speaker-test voice ("Front Left"), 48 kHz.

The packages are fetched with `apt-get download` once into build/speech-corpus and unpacked there.
Every utterance comes back as 8 kHz PCM16, before any phone codec.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent / "build" / "speech-corpus"
PACKAGES = ["asterisk-core-sounds-en", "asterisk-core-sounds-en-gsm", "pocketsphinx-testdata", "alsa-utils"]
ASTERISK_WORDS = re.compile(r"^digits/(\d+|day-\d|mon-\d+)$")


@dataclass(frozen=True)
class Utterance:
    source: str
    id: str
    text: str
    pcm: bytes  # 8 kHz PCM16


def _unpacked() -> Path:
    tree = ROOT / "tree"
    if (ROOT / ".ready").exists():
        return tree
    debs = ROOT / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    print(f"speech corpus: apt-get download {' '.join(PACKAGES)}", flush=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True, capture_output=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    (ROOT / ".ready").touch()
    return tree


def _to_8k(audio: np.ndarray, rate: int) -> bytes:
    out = soxr.resample(audio.astype(np.float32), rate, 8000) if rate != 8000 else audio.astype(np.float32)
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


def _wav(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return _to_8k(np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate())


def _raw16k(path: Path) -> bytes:
    return _to_8k(np.frombuffer(path.read_bytes(), np.int16), 16000)


def _gsm(path: Path) -> bytes:
    raw = subprocess.run(
        ["sox", "-t", "gsm", str(path), "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return raw


def _sphinx_lines(path: Path) -> dict[str, str]:
    """'<s> ten of clubs </s> (001)' → {'001': 'ten of clubs'}."""
    out = {}
    for line in path.read_text().splitlines():
        if m := re.match(r"(?:<s>)?\s*(.*?)\s*(?:</s>)?\s*\(([^)\s]+)[^)]*\)\s*$", line):
            out[m.group(2)] = m.group(1)
    return out


def _index(tree: Path) -> list[tuple[str, str]]:
    index = tree / "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
    lines = gzip.decompress(index.read_bytes()).decode("utf-8", "replace").splitlines()
    return [(name, said.strip()) for name, sep, said in (line.partition(": ") for line in lines) if sep]


def prompts() -> list[Utterance]:
    """Every Asterisk prompt that has a transcript (bench/amd.py builds voicemail greetings from them)."""
    tree = _unpacked()
    sounds = tree / "usr/share/asterisk/sounds/en_US_f_Allison"
    return [
        Utterance("asterisk", name, said, _gsm(sounds / f"{name}.gsm"))
        for name, said in _index(tree)
        if (sounds / f"{name}.gsm").exists()
    ]


def asterisk(tree: Path) -> list[Utterance]:
    sounds = tree / "usr/share/asterisk/sounds/en_US_f_Allison"
    out, counted = [], 0
    for name, said in _index(tree):
        if name.startswith(";") or not said or "[" in said or "<" in said or not (sounds / f"{name}.gsm").exists():
            continue
        if not ASTERISK_WORDS.match(name):
            if "/" in name or len(said.split()) > 16:
                continue
            counted += 1
            if counted % 5:
                continue
        out.append(Utterance("asterisk", name, said, _gsm(sounds / f"{name}.gsm")))
    return out


def pocketsphinx(tree: Path) -> list[Utterance]:
    data = tree / "usr/share/pocketsphinx/test/data"
    out = [
        Utterance("pocketsphinx", f"cards/{k}", v, _wav(data / "cards" / f"{k}.wav"))
        for k, v in _sphinx_lines(data / "cards" / "cards.transcription").items()
    ]
    out += [
        Utterance("pocketsphinx", f"librivox/{k}", v, _wav(data / "librivox" / f"{k}.wav"))
        for k, v in _sphinx_lines(data / "librivox" / "transcription").items()
    ]
    out.append(Utterance("pocketsphinx", "goforward", "go forward ten meters", _raw16k(data / "goforward.raw")))
    out.append(
        Utterance(
            "pocketsphinx", "tidigits/dhd.2934z", "two nine three four zero", _raw16k(data / "tidigits/dhd.2934z.raw")
        )
    )
    return out


def alsa(tree: Path) -> list[Utterance]:
    return [
        Utterance("alsa", wav.stem, wav.stem.replace("_", " "), _wav(wav))
        for wav in sorted((tree / "usr/share/sounds/alsa").glob("*.wav"))
        if wav.stem != "Noise"  # a noise burst, not speech
    ]


def load() -> list[Utterance]:
    tree = _unpacked()
    return [*asterisk(tree), *pocketsphinx(tree), *alsa(tree)]


if __name__ == "__main__":
    corpus = load()
    for source in sorted({u.source for u in corpus}):
        chosen = [u for u in corpus if u.source == source]
        seconds = sum(len(u.pcm) for u in chosen) / 16000
        print(f"{source}: {len(chosen)} utterances, {seconds:.0f} s")
