"""PixelRNN: two-dimensional LSTM layers over a raster scan, with R→G→B colour ordering.

A. van den Oord, N. Kalchbrenner and K. Kavukcuoglu, "Pixel Recurrent Neural Networks",
ICML 2016, arXiv:1601.06759 (Sec. 3.1-3.4 and Table 4).

    p(x) = Π_{i,j} Π_c p(x_{c,i,j} | x_{<(i,j)}, x_{<c,(i,j)})

The network (Table 4):

    7x7 conv, mask A, 2h channels
    n_layers x residual LSTM layer (Sec. 3.3):  s + 1x1 mask B (h→2h) ∘ LSTM (2h→h) (s)
    ReLU, 1x1 mask B, ReLU, 1x1 mask B → per colour channel, the head's parameters

Every LSTM layer computes its four gates from an input-to-state part K^is ⊛ s (masked,
over the layer's input) and a state-to-state part K^ss ⊛ h (over states already computed):

    [i, f, o, g] = [σ, σ, σ, tanh](K^is ⊛ s + K^ss ⊛ h_prev)
    c = f ⊙ c_prev + i ⊙ g,   h = o ⊙ tanh(c)

Row LSTM (Sec. 3.1): one row at a time, top to bottom. K^is is a 1 x k conv along the row,
masked right of the centre (mask B); K^ss is a 1 x 3 conv over the previous row's states
h_{i-1}; c_prev = c_{i-1} at the same column. The context is a triangle above the pixel: row
i-d is seen up to column j+d+2 (the 7x7 first layer reaches j+3 on row i-1), so that
(i-1, j+4) is never seen, however deep the network.

Diagonal BiLSTM (Sec. 3.2): K^is is a 1x1 conv (mask B). Skewing the map (row r shifted
right by r) turns diagonals into columns; scanning them left to right, the state at (i, j)
reads h at (i-1, j) and (i, j-1) through a kernel of size 2, and c_prev = c_{i, j-1}. A second
LSTM scans the mirrored map, right to left. Its state at (i, j) has seen (i, j+1..): its
output is shifted down one row before the two are added, so that (i, j) gets the right-to-
left state of (i-1, j). The context is then the whole past from the first layer on, but
for one input: the last colour of (i-1, W-1), which mask A hides from every state at that
pixel, so that only the 7x7 first layer of pixels (i, j >= W-4) sees it.
Training runs both directions as one scan over the map's diagonals, with its backward pass
written out (genzoo.nn.diagonal_scan); `forward_skewed` keeps the skew / loop / unskew form,
which the scan is tested against.

Colours (Sec. 3.4): the 2h residual channels, the h states and each of the four gates are
split into R, G and B groups (nn.masked.colour_groups); masks A and B at the current pixel
let group g see only colours < g of x. Everything already computed (the previous row, the
previous column) is the past and unmasked.

Sampling: every state depends only on states and layer inputs earlier in raster order, so
each step computes every layer at the current pixel only, and caches its states. The Row
LSTM adds K^ss ⊛ h_{i-1} once per row; the Diagonal BiLSTM runs its right-to-left scan over
row i-1 once, when row i starts. A batch of samples then costs about C forward passes of
arithmetic (each pixel is recomputed once per colour), in H x W x C small steps.

Deviations from the paper:
- The head is a choice: Bernoulli (binary, as for MNIST), 256-way softmax (Sec. 3.4), or
  a discretised logistic mixture (PixelCNN++).
- Sizes default to the paper's MNIST model (7 layers, h = 16); the output layers have 32
  channels, not the 1024 of the CIFAR-10 network.
- The state-to-state convs have no bias: the input-to-state bias already covers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core import DataInfo, GenzooError, register
from genzoo.core.config import at_least
from genzoo.models.autoregressive.pixel import PixelModel, Step
from genzoo.nn.diagonal_scan import diagonal_lstm_scan
from genzoo.nn.masked import MaskedConv2d, colour_groups

LayerStep = Callable[[int, int, Tensor], Tensor]  # (i, j, s at (i, j)) -> layer output (B, 2h)


@dataclass
class RowLSTMConfig:
    # h; the residual stream has 2h (Sec. 3.3); MNIST: h = 16 (Sec. 5)
    hidden_channels: int = field(default=16, metadata=at_least(1))
    n_layers: int = field(default=7, metadata=at_least(1))  # MNIST: 7 layers (Sec. 5)
    # k of the 1 x k input-to-state conv (Sec. 3.1, Table 4: mask B)
    input_kernel: int = field(default=3, metadata=at_least(1))
    # the state-to-state conv over the previous row (Table 4: no mask)
    state_kernel: int = field(default=3, metadata=at_least(1))
    # the two 1x1 output layers (Table 4; 1024 for CIFAR-10)
    out_channels: int = field(default=32, metadata=at_least(1))
    head: str = "auto"  # auto | bernoulli | categorical | logistic-mixture
    # logistic-mixture components per channel (PixelCNN++ uses 10)
    n_mixtures: int = field(default=5, metadata=at_least(1))


@dataclass
class DiagonalBiLSTMConfig:
    # h; the residual stream has 2h (Sec. 3.3); MNIST: h = 16 (Sec. 5)
    hidden_channels: int = field(default=16, metadata=at_least(1))
    n_layers: int = field(default=7, metadata=at_least(1))  # MNIST: 7 layers (Sec. 5)
    # the two 1x1 output layers (Table 4; 1024 for CIFAR-10)
    out_channels: int = field(default=32, metadata=at_least(1))
    head: str = "auto"  # auto | bernoulli | categorical | logistic-mixture
    # logistic-mixture components per channel (PixelCNN++ uses 10)
    n_mixtures: int = field(default=5, metadata=at_least(1))


def lstm_cell(gates: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor]:
    """Sec. 3.1: gates (B, 4h, ...) in the order i, f, o, g; returns h, c (B, h, ...)."""
    i, f, o, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gate_conv(hidden: int, kernel: int | tuple[int, int], n_colours: int) -> MaskedConv2d:
    """K^is: 2h → 4h gate inputs, mask B; gate k * h + u belongs to hidden unit u's colour."""
    groups = colour_groups(hidden, n_colours).repeat(4)
    return MaskedConv2d(2 * hidden, 4 * hidden, kernel, "B", n_colours, out_groups=groups)


def skew(u: Tensor) -> Tensor:
    """(B, D, H, W) -> (B, D, H, W + H - 1): row r shifted right by r (Sec. 3.2, Fig. 3)."""
    B, D, H, W = u.shape
    out = u.new_zeros(B, D, H, W + H - 1)
    for r in range(H):
        out[:, :, r, r : r + W] = u[:, :, r]
    return out


def unskew(v: Tensor, W: int) -> Tensor:
    """The inverse of skew: (B, D, H, W + H - 1) -> (B, D, H, W)."""
    return torch.stack([v[:, :, r, r : r + W] for r in range(v.shape[2])], dim=2)


# --- Row LSTM (Sec. 3.1) -------------------------------------------------------------------


class RowLSTMLayer(nn.Module):
    """s + 1x1(LSTM(s)), the LSTM scanning rows top to bottom; (B, 2h, H, W) -> same."""

    def __init__(self, hidden: int, input_kernel: int, state_kernel: int, n_colours: int):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = gate_conv(hidden, (1, input_kernel), n_colours)
        self.state_to_state = nn.Conv1d(
            hidden, 4 * hidden, state_kernel, padding=state_kernel // 2, bias=False
        )
        self.expand = MaskedConv2d(hidden, 2 * hidden, 1, "B", n_colours)

    def forward(self, s: Tensor) -> Tensor:
        u = self.input_to_state(s)  # (B, 4h, H, W): K^is ⊛ s, every row at once
        B, _, H, W = u.shape
        h = c = s.new_zeros(B, self.hidden, W)  # h_{-1} = c_{-1} = 0
        rows = []
        for i in range(H):
            h, c = lstm_cell(u[:, :, i] + self.state_to_state(h), c)
            rows.append(h)
        return s + self.expand(torch.stack(rows, dim=2))

    def stepper(self, B: int, H: int, W: int, like: Tensor) -> LayerStep:
        """step(i, j, s): this layer at (i, j) alone, from its input there (module docstring)."""
        conv = self.input_to_state
        s_in = conv.pad(like.new_zeros(B, 2 * self.hidden, H, W))  # (B, 2h, H, W + k - 1)
        h = like.new_zeros(B, self.hidden, H + 1, W)  # row i + 1 holds h_i; row 0 is h_{-1}
        c = torch.zeros_like(h)
        recurrent = [-1, None]  # the row, and K^ss ⊛ h_{i-1} for it (B, 4h, W)
        k_is, k_out = conv.matrix(), self.expand.matrix()

        def step(i: int, j: int, s_ij: Tensor) -> Tensor:
            if recurrent[0] != i:  # row i - 1 is complete
                recurrent[:] = i, self.state_to_state(h[:, :, i])
            s_in[:, :, i, j + conv.r_w] = s_ij
            gates = conv.forward_at(s_in, i, j, k_is) + recurrent[1][:, :, j]
            h[:, :, i + 1, j], c[:, :, i + 1, j] = lstm_cell(gates, c[:, :, i, j])
            return s_ij + self.expand.pointwise(h[:, :, i + 1, j], k_out)

        return step


# --- Diagonal BiLSTM (Sec. 3.2) ------------------------------------------------------------


class DiagonalLSTM(nn.Module):
    """One direction: the LSTM over the skewed map's columns, left to right; (B, 2h, H, W) ->
    (B, h, H, W). K^ss, the 2x1 conv over the previous column, is written as a linear map of
    its two taps, rows r-1 and r: the states at (i-1, j) and (i, j-1)."""

    def __init__(self, hidden: int, n_colours: int):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = gate_conv(hidden, 1, n_colours)
        self.state_to_state = nn.Linear(2 * hidden, 4 * hidden, bias=False)

    def forward(self, s: Tensor) -> Tensor:
        k_is = self.input_to_state.matrix()[None]  # (1, 4h, 2h)
        b_is, k_ss = self.input_to_state.bias[None], self.state_to_state.weight[None]
        return diagonal_lstm_scan(s, k_is, b_is, k_ss).permute(2, 3, 0, 1)  # (B, h, H, W)

    def forward_skewed(self, s: Tensor) -> Tensor:
        """The straightforward form, which `forward` equals: skew, a loop over the columns,
        unskew (tests/test_pixelrnn.py, benchmarks/diagonal_bilstm.py)."""
        u = skew(self.input_to_state(s)).permute(3, 0, 1, 2).contiguous()  # (W+H-1, B, 4h, H)
        T, B, _, H = u.shape
        k_ss = self.state_to_state.weight  # (4h, 2h)
        h = c = s.new_zeros(B, self.hidden, H)  # the column before the first
        columns = []
        for t in range(T):
            above = F.pad(h, (1, -1))  # (B, h, H): row r-1 of the previous column
            h, c = lstm_cell(u[t] + k_ss @ torch.cat((above, h), dim=1), c)
            columns.append(h)
        return unskew(torch.stack(columns, dim=3), s.shape[3])


class DiagonalBiLSTMLayer(nn.Module):
    """s + 1x1(left-to-right LSTM + right-to-left LSTM shifted down one row); (B, 2h, H, W)."""

    def __init__(self, hidden: int, n_colours: int):
        super().__init__()
        self.hidden = hidden
        self.left = DiagonalLSTM(hidden, n_colours)
        self.right = DiagonalLSTM(hidden, n_colours)  # run on the mirrored map
        self.expand = MaskedConv2d(hidden, 2 * hidden, 1, "B", n_colours)

    def forward(self, s: Tensor) -> Tensor:
        # both directions in one scan: K^is is 1x1, so the right-to-left scan's gate inputs
        # are those of the map itself, mirrored in the scan
        directions = (self.left, self.right)
        k_is = torch.stack([d.input_to_state.matrix() for d in directions])
        b_is = torch.stack([d.input_to_state.bias for d in directions])  # (2, 4h)
        k_ss = torch.stack([d.state_to_state.weight for d in directions])  # (2, 4h, 2h)
        h = diagonal_lstm_scan(s, k_is, b_is, k_ss)  # (H, W, B, 2h)
        left, right = h.split(self.hidden, dim=3)  # (H, W, B, h)
        right = F.pad(right, (0, 0, 0, 0, 0, 0, 1, -1))  # shifted down: (i, j) gets (i-1, j)
        z = F.linear(left + right, self.expand.matrix(), self.expand.bias)
        return s + z.permute(2, 3, 0, 1)

    def forward_skewed(self, s: Tensor) -> Tensor:
        """`forward` in the straightforward form, one direction at a time (Sec. 3.2)."""
        right = self.right.forward_skewed(s.flip(3)).flip(3)  # (i, j) has seen (i, j+1..)
        right = F.pad(right, (0, 0, 1, 0))[:, :, :-1]  # shifted down: (i, j) gets (i-1, j)
        return s + self.expand(self.left.forward_skewed(s) + right)

    def stepper(self, B: int, H: int, W: int, like: Tensor) -> LayerStep:
        """step(i, j, s): this layer at (i, j) alone, from its input there (module docstring).
        Buffers are (rows, columns, B, channels), cut once into per-pixel views: a state then
        costs two matmuls and six in-place elementwise ops, and no indexing."""
        h = self.hidden
        directions = (self.left, self.right)
        k_is = torch.cat([d.input_to_state.matrix() for d in directions]).t()
        b_is = torch.cat([d.input_to_state.bias for d in directions])  # (8h,)
        # K^ss as (h, 4h) blocks acting on the states at (i-1, j) and at the previous column
        (above_l, same_l), (above_r, same_r) = (
            d.state_to_state.weight.t().split(h) for d in directions
        )
        k_out, b_out = self.expand.matrix().t(), self.expand.bias

        def pixels(x: Tensor) -> list[list[Tensor]]:
            return [list(row.unbind(0)) for row in x.unbind(0)]

        # zero-bordered states: left [i + 1, j + 1] holds (i, j); right [i + 1, j] holds (i, j),
        # its column W being the state before a right-to-left scan
        states = like.new_zeros(4, H + 1, W + 1, B, h)
        h_left, c_left, h_right, c_right = (pixels(x) for x in states)
        u = like.new_zeros(H, W, B, 8 * h)  # K^is ⊛ s at each pixel, both directions
        u_all, u_left, u_right = pixels(u), pixels(u[..., : 4 * h]), pixels(u[..., 4 * h :])
        # 1x1(right-to-left state at (i-1, j)) + bias, each row at once when row i-1 is done
        y_above = like.new_empty(H, W, B, 2 * h)
        y_above[0] = b_out
        y_above_at = pixels(y_above)
        gates = like.new_empty(B, 4 * h)
        sigmoid_part, tanh_part = gates[:, : 3 * h], gates[:, 3 * h :]
        i_g, f_g, o_g, g_g = gates.split(h, dim=1)
        done = [0]  # rows the right-to-left pass has covered

        def cell(u, h_above, h_before, c_before, k_above, k_same, h_out, c_out) -> None:
            torch.addmm(u, h_above, k_above, out=gates).addmm_(h_before, k_same)
            sigmoid_part.sigmoid_()
            tanh_part.tanh_()
            torch.mul(f_g, c_before, out=c_out).addcmul_(i_g, g_g)  # Sec. 3.1 (lstm_cell)
            torch.tanh(c_out, out=h_out).mul_(o_g)

        def right_to_left(r: int) -> None:
            above, row, u_row = h_right[r], h_right[r + 1], u_right[r]
            c_row = c_right[r + 1]
            for j in reversed(range(W)):
                cell(
                    u_row[j], above[j], row[j + 1], c_row[j + 1], above_r, same_r, row[j], c_row[j]
                )
            h_row = states[2, r + 1, :W].view(W * B, h)
            torch.addmm(b_out, h_row, k_out, out=y_above[r + 1].view(W * B, 2 * h))

        def step(i: int, j: int, s_ij: Tensor) -> Tensor:
            while done[0] < i:  # rows above are complete
                right_to_left(done[0])
                done[0] += 1
            torch.addmm(b_is, s_ij, k_is, out=u_all[i][j])
            h_ij = h_left[i + 1][j + 1]
            cell(u_left[i][j], h_left[i][j + 1], h_left[i + 1][j], c_left[i + 1][j],
                 above_l, same_l, h_ij, c_left[i + 1][j + 1])  # fmt: skip
            return torch.addmm(y_above_at[i][j], h_ij, k_out).add_(s_ij)

        return step


# --- the models ----------------------------------------------------------------------------


class PixelRNN(PixelModel):
    """Table 4's first and output layers around a stack of residual LSTM layers."""

    def __init__(self, config, data: DataInfo, layers: list[nn.Module]):
        super().__init__(config, data)
        self.build_ends(7, 2 * config.hidden_channels, config.out_channels)  # Table 4: 7x7
        self.layers = nn.ModuleList(layers)

    @staticmethod
    def check_channels(config, data: DataInfo) -> None:
        C = data.shape[0] if len(data.shape) == 3 else 1
        if config.hidden_channels % C != 0:
            raise GenzooError(
                f"hidden_channels={config.hidden_channels} must be a multiple of the {C} colour "
                f"channels: each colour gets an equal share of the LSTM's units"
            )

    def body(self, s: Tensor) -> Tensor:
        for layer in self.layers:
            s = layer(s)
        return s

    def stepper(self, x: Tensor) -> Step:
        """Incremental sampling: every layer at the current pixel only (module docstring)."""
        B, (_, H, W) = x.shape[0], self.data.shape
        first, last = self.ends_at(x)
        layer_steps = [layer.stepper(B, H, W, x) for layer in self.layers]

        def step(i: int, j: int, c: int) -> Tensor:
            s = first(i, j)  # (B, 2h)
            for layer_step in layer_steps:
                s = layer_step(i, j, s)
            return last(s, c)

        return step


@register("row-lstm", family="autoregressive", description="PixelRNN, Row LSTM layers")
class RowLSTM(PixelRNN):
    Config = RowLSTMConfig

    def __init__(self, config: RowLSTMConfig, data: DataInfo):
        self.check_channels(config, data)
        if config.input_kernel % 2 == 0 or config.state_kernel % 2 == 0:
            raise GenzooError(
                f"input_kernel={config.input_kernel} and state_kernel={config.state_kernel} "
                f"must be odd, so that the kernels are centred on the pixel"
            )
        h, C = config.hidden_channels, data.shape[0]
        layers = [
            RowLSTMLayer(h, config.input_kernel, config.state_kernel, C)
            for _ in range(config.n_layers)
        ]
        super().__init__(config, data, layers)


@register("diagonal-bilstm", family="autoregressive", description="PixelRNN, Diagonal BiLSTM")
class DiagonalBiLSTM(PixelRNN):
    Config = DiagonalBiLSTMConfig

    def __init__(self, config: DiagonalBiLSTMConfig, data: DataInfo):
        self.check_channels(config, data)
        h, C = config.hidden_channels, data.shape[0]
        layers = [DiagonalBiLSTMLayer(h, C) for _ in range(config.n_layers)]
        super().__init__(config, data, layers)
