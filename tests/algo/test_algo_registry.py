import srpo.algo as algo


def test_shipped_registries():
    assert algo.ADVANTAGE_ESTIMATORS.names() == ("dr_grpo", "grpo", "rloo")
    assert algo.POLICY_LOSSES.names() == ("cispo", "gspo", "ppo_clip", "sapo")
    assert algo.LOSS_AGGREGATIONS.names() == (
        "seq_mean_token_mean",
        "seq_mean_token_sum",
        "seq_mean_token_sum_norm",
        "token_mean",
    )
    assert algo.KL_ESTIMATORS.names() == ("k1", "k2", "k3")
