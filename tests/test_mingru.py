import torch

from slmlib.judges.mingru import BidirectionalMinGRU, BidirectionalScan, positive_g


def _loop(a: torch.Tensor, v: torch.Tensor, hidden: int) -> torch.Tensor:
    """The recurrence written out: forward channels left to right, backward ones right to left."""
    T = len(v)
    fw, bw = [v[0, :, :hidden]], [v[T - 1, :, hidden:]]
    for t in range(1, T):
        fw.append(a[t, :, :hidden] * fw[-1] + v[t, :, :hidden])
        bw.append(a[T - 1 - t, :, hidden:] * bw[-1] + v[T - 1 - t, :, hidden:])
    return torch.cat([torch.stack(fw), torch.stack(bw[::-1])], -1)


def test_the_scan_is_the_recurrence_and_its_gradient_is_exact():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(7, 2, 6, dtype=torch.double, generator=gen).requires_grad_()
    v = torch.randn(7, 2, 6, dtype=torch.double, generator=gen).requires_grad_()
    torch.testing.assert_close(BidirectionalScan.apply(a, v, 3), _loop(a, v, 3))
    assert torch.autograd.gradcheck(lambda a, v: BidirectionalScan.apply(a, v, 3), (a, v))
    one = torch.rand(1, 2, 4, dtype=torch.double)                   # a single frame: h = v
    torch.testing.assert_close(BidirectionalScan.apply(one, one * 2, 2), one * 2)


def test_padding_never_reaches_a_clips_frames_and_both_directions_see_the_clip():
    torch.manual_seed(0)
    enc = BidirectionalMinGRU(8, 5, layers=2).eval()
    clip = torch.randn(1, 9, 8)
    alone = enc(clip, torch.tensor([9]))
    batch = torch.cat([torch.cat([clip, torch.randn(1, 6, 8) * 50], 1), torch.randn(1, 15, 8)])
    padded = enc(batch, torch.tensor([9, 15]))
    assert padded.shape == (2, 15, 10)
    torch.testing.assert_close(padded[:1, :9], alone, atol=1e-5, rtol=1e-5)
    later = clip.clone()
    later[0, -1] += 1.0                                             # the last frame changes...
    moved = (enc(later, torch.tensor([9])) - alone).abs().sum(-1)[0]
    assert moved[0] > 0 and moved[-1] > 0                           # ...and so does the first output


def test_g_is_minGRUs_activation():
    x = torch.linspace(-6, 6, 101)
    torch.testing.assert_close(positive_g(x), torch.where(x >= 0, x + 0.5, torch.sigmoid(x)))
    assert (positive_g(x) > 0).all()
