"""The architecture parameter: a grammar derivation as a plain string in a config."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import tunewise as tw

OPS = ["none", "skip", "conv1x1", "conv3x3", "avgpool3x3"]


def cell(**kwargs: object) -> tw.Grammar:
    return tw.Grammar(
        {"C": ["Cell E E E E E E"], "E": OPS},
        "C",
        topologies={"Cell": 6},
        primitives=OPS,
        **kwargs,  # type: ignore[arg-type]
    )


GOOD = {"E": {"conv3x3": 0.6, "conv1x1": 0.1, "skip": 0.1, "none": 0.1, "avgpool3x3": 0.1}}
SPACE = tw.Space(
    arch=tw.Architecture(cell(priors=GOOD)),
    lr=tw.Float(1e-4, 1e-1, log=True),
    head=tw.Categorical(["linear", "cell"]),
    head_arch=tw.Architecture(cell(), when={"head": "cell"}),
    epochs=tw.Fidelity(1, 9),
)


def test_samples_are_canonical_strings_that_validate_and_round_trip_through_json() -> None:
    configs = SPACE.sample_many(np.random.default_rng(0), 50)
    for config in configs:
        assert isinstance(config["arch"], str) and config["arch"].startswith("Cell(")
        assert ("head_arch" in config) == (config["head"] == "cell")
        SPACE.validate_config(json.loads(json.dumps(config)))
    assert len({c["arch"] for c in configs}) == 50


def test_sampling_is_reproducible_and_leaves_spaces_without_architectures_unchanged() -> None:
    assert SPACE.sample_many(np.random.default_rng(3), 5) == SPACE.sample_many(
        np.random.default_rng(3), 5
    )
    flat = tw.Space(lr=tw.Float(1e-4, 1e-1, log=True), head=tw.Categorical(["linear", "cell"]))
    with_arch = tw.Space(**flat.parameters, arch=tw.Architecture(cell()))
    a = flat.sample_many(np.random.default_rng(1), 5)
    b = with_arch.sample_many(np.random.default_rng(1), 5)
    assert a == [{k: v for k, v in c.items() if k != "arch"} for c in b]


def test_invalid_values_name_the_parameter_and_where_the_string_fails() -> None:
    good = SPACE.sample(np.random.default_rng(0))
    with pytest.raises(tw.SpaceError, match=r"parameter 'arch': not an architecture.*conv5x5"):
        SPACE.validate_config({**good, "arch": "Cell(conv5x5, id, id, id, id, id)"})
    with pytest.raises(tw.SpaceError, match="parameter 'arch': expected a derivation string"):
        SPACE.validate_config({**good, "arch": 3})
    with pytest.raises(tw.SpaceError, match="parameter 'arch': prior: not an architecture"):
        tw.Space(arch=tw.Architecture(cell(), prior="Cell(none)"))
    broken = {"start": "C", "productions": {"C": ["Cell E"]}, "topologies": {"Cell": 1}}
    with pytest.raises(tw.SpaceError, match="parameter 'arch': grammar: nonterminal 'E'"):
        tw.Space.from_dict(
            {"arch": {"type": "architecture", "grammar": {**broken, "primitives": []}}}
        )
    with pytest.raises(tw.SpaceError, match="parameter 'arch': grammar: missing 'primitives'"):
        tw.Space.from_dict({"arch": {"grammar": broken}})


def test_production_priors_shift_samples_and_the_log_prior_is_relative_to_uniform() -> None:
    rng = np.random.default_rng(0)
    prior = SPACE.sample_many(rng, 400, use_priors=True)
    uniform = SPACE.sample_many(rng, 400)
    share = lambda cs: np.mean([c["arch"].count("conv3x3") / 6 for c in cs])  # noqa: E731
    assert share(prior) == pytest.approx(0.6, abs=0.05)
    assert share(uniform) == pytest.approx(0.2, abs=0.04)
    arch = SPACE["arch"]
    assert isinstance(arch, tw.Architecture)
    all3 = "Cell(conv3x3, conv3x3, conv3x3, conv3x3, conv3x3, conv3x3)"
    assert arch.log_prior(all3) == pytest.approx(6 * math.log(0.6 * 5))
    assert arch.default == all3  # the mode: the likeliest production at every node
    assert tw.Architecture(cell()).log_prior(all3) == 0.0
    assert SPACE.has_priors and not tw.Space(a=tw.Architecture(cell())).has_priors


def test_a_prior_centred_on_an_architecture_weights_its_productions_like_a_categorical() -> None:
    believed = "Cell(conv3x3, skip, none, conv1x1, avgpool3x3, conv3x3)"
    arch = tw.Architecture(cell(), prior=believed, confidence="high")
    assert arch.default == believed and arch.has_prior
    # per edge the believed op has weight 6 against 1 for the four others
    assert arch.log_prior(believed) == pytest.approx(6 * math.log(6 / 10 * 5))
    draws = arch.sample(np.random.default_rng(0), 300, use_prior=True)
    assert np.mean([d == believed for d in draws]) == pytest.approx(0.6**6, abs=0.03)


def test_exact_counts_match_enumeration_on_a_small_hierarchical_grammar() -> None:
    g = tw.Grammar(
        {"S": ["Linear2 B B", "Residual2 B B B"], "B": ["Linear2 B B", "conv", "id"]},
        "S",
        topologies={"Linear2": 2, "Residual2": 3},
        primitives=["conv", "id"],
        depth={"B": 2},
    )
    arch = tw.Architecture(g)
    seen = set(arch.sample(np.random.default_rng(0), 20_000))
    # B at depth 2: 2 leaves or Linear2 of leaves (4) -> 6; S: 6^2 + 6^3
    assert arch.count() == 6**2 + 6**3 == len(seen)


def test_mutation_and_crossover_give_valid_different_strings() -> None:
    arch = SPACE["arch"]
    assert isinstance(arch, tw.Architecture)
    rng = np.random.default_rng(0)
    a, b = arch.sample(rng, 2)
    for _ in range(50):
        child = arch.mutate(a, rng)
        assert child is not None and child != a and arch.contains(child)
        crossed = arch.crossover(a, b, rng)
        assert crossed is None or (crossed != a and arch.contains(crossed))


def test_dict_json_and_yaml_forms_round_trip() -> None:
    again = tw.Space.from_json(SPACE.to_json())
    assert again == SPACE
    assert again.sample_many(np.random.default_rng(2), 3) == SPACE.sample_many(
        np.random.default_rng(2), 3
    )
    from_yaml = tw.Space.from_yaml(
        """
net:
  type: architecture
  grammar:
    start: S
    productions: {S: [Seq2 B B], B: [conv, id]}
    topologies: {Seq2: 2}
    primitives: [conv, id]
  prior: Seq2(conv, conv)
  confidence: high
"""
    )
    net = from_yaml["net"]
    assert isinstance(net, tw.Architecture) and net.count() == 4
    assert from_yaml.prior_config() == {"net": "Seq2(conv, conv)"}


def test_diff_says_what_changed_in_the_grammar() -> None:
    old = tw.Space(arch=tw.Architecture(cell()))
    new = tw.Space(
        arch=tw.Architecture(
            tw.Grammar(
                {"C": ["Cell E E E E E E"], "E": [*OPS[:4], "conv5x5"]},
                "C",
                topologies={"Cell": 6},
                primitives=[*OPS[:4], "conv5x5"],
            )
        )
    )
    changes = old.diff(new)
    assert "parameter 'arch': grammar productions of 'E' removed: 'avgpool3x3'" in changes
    assert "parameter 'arch': grammar productions of 'E' added: 'conv5x5'" in changes
    assert old.diff(tw.Space(arch=tw.Architecture(cell(), confidence="high"))) == [
        "parameter 'arch': confidence changed from 'medium' to 'high'"
    ]
    assert old.diff(tw.Space(arch=tw.Architecture(cell()))) == []


def test_the_unit_cube_skips_architectures_and_decode_takes_them_apart() -> None:
    config = SPACE.sample(np.random.default_rng(5))
    u = SPACE.encode(config)
    assert u.shape == (2,) and SPACE.dimension_names == ("lr", "head")
    archs = {k: config[k] for k in ("arch", "head_arch") if k in config}
    assert SPACE.decode(u, architectures=archs) == pytest.approx(config)
    with pytest.raises(tw.SpaceError, match="an active architecture needs its value"):
        SPACE.decode(u)
