"""The epoch loop every training shares (`hub.kit.training.run_epochs`)."""
import logging

import torch

from hub.kit import training


def test_the_epoch_log_tells_accuracies_apart_that_round_to_the_same_percent(caplog):
    scores = iter([0.99412, 0.99541, 0.99533])
    cfg = dict(epochs=3)
    with caplog.at_level(logging.INFO, logger="test.training"):
        best = training.run_epochs(lambda epoch: "loss 0.5", lambda module: next(scores), torch.nn.Linear(1, 1),
                                   cfg, logging.getLogger("test.training"), maximise=True, score_name="valid")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch")]
    assert best["epoch"] == 2 and best["score"] == 0.99541
    assert "valid 0.99533  best 0.99541 @2" in lines[-1]
