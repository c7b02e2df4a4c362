"""Module conveniences: state_dict round trips through files, and torch-trained weights."""
import numpy as np
import torch

import ardor


def _pair_models():
    def make(lib):
        nn = lib.nn
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    torch.manual_seed(0)
    return make(ardor), make(torch)


def test_module_state_dict_round_trips_through_a_file(tmp_path):
    model, _ = _pair_models()
    ardor.save(model.state_dict(), tmp_path / "m.pt")
    fresh, _ = _pair_models()
    result = fresh.load_state_dict(ardor.load(tmp_path / "m.pt"))
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, a), (k2, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_torch_trained_weights_give_torch_outputs(tmp_path):
    amodel, tmodel = _pair_models()
    opt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    x = torch.randn(8, 1, 8, 8)
    for _ in range(3):  # train a little so BatchNorm running stats move too
        loss = tmodel(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    tmodel.eval()
    torch.save(tmodel.state_dict(), tmp_path / "torch.pt")
    amodel.load_state_dict(ardor.load(tmp_path / "torch.pt"))
    amodel.eval()
    xt = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        expected = tmodel(xt).numpy()
    got = amodel(ardor.from_numpy(xt.numpy())).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_ardor_weights_load_in_torch(tmp_path):
    amodel, tmodel = _pair_models()
    ardor.save(amodel.state_dict(), tmp_path / "a.pt")
    tmodel.load_state_dict(torch.load(tmp_path / "a.pt"))
    amodel.eval()
    tmodel.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(amodel(ardor.from_numpy(x)).detach().numpy(), expected,
                               rtol=1e-5, atol=1e-5)


def test_optimizer_state_round_trip_with_torch(tmp_path):
    amodel, tmodel = _pair_models()
    tmodel.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in amodel.state_dict().items()})
    aopt = ardor.optim.Adam(amodel.parameters(), lr=1e-2)
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-2)
    x = np.random.default_rng(1).standard_normal((4, 1, 8, 8)).astype(np.float32)
    for model, opt, lib in ((amodel, aopt, ardor), (tmodel, topt, torch)):
        loss = model(lib.from_numpy(x)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    ardor.save(aopt.state_dict(), tmp_path / "opt.pt")
    tstate = torch.load(tmp_path / "opt.pt")
    assert tstate["param_groups"][0]["params"] == topt.state_dict()["param_groups"][0]["params"]
    topt.load_state_dict(tstate)  # torch accepts ardor's optimizer state
    for i, st in topt.state_dict()["state"].items():
        np.testing.assert_allclose(st["exp_avg"].numpy(),
                                   aopt.state_dict()["state"][i]["exp_avg"].numpy())
