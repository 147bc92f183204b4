/* lipcl kernels — invertible resampling of NHWC images: space to depth (InvertibleDownSampling,
 * torch pixel_unshuffle channel order, deel-lip 1.5.1) and its inverse depth to space (pixel_shuffle). */

/*
 * No tunables: the host picks the work-group size; loops are grid-stride so any grid covers any
 * size. Both kernels gather (one work-item per output element), so each is a pure permutation;
 * the backward of one is the other. With p0 × p1 the pool, for the large image (B, H, W, C) and
 * the small one (B, H/p0, W/p1, C·p0·p1):
 *     small[b, y, x, c·p0·p1 + i·p1 + j] = large[b, y·p0 + i, x·p1 + j, c],  i < p0, j < p1.
 * Correct for H ≠ W (deel-lip 1.5.1's up-sampling is not; see the spec, section 2.9).
 */

/* Space to depth: small = down(large). large is (B, H, W, C); count = number of elements. */
__kernel void lip_resampling_down(__global const float *large, const uint large_off, __global float *small,
                                  const uint small_off, const uint H, const uint W, const uint C, const uint p0,
                                  const uint p1, const uint count) {
    const uint stride = (uint)get_global_size(0);
    const uint SW = W / p1, SH = H / p0, SC = C * p0 * p1;
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint sc = e % SC;
        uint t = e / SC;
        const uint x = t % SW;
        t /= SW;
        const uint y = t % SH, b = t / SH;
        const uint c = sc / (p0 * p1), r = sc % (p0 * p1), i = r / p1, j = r % p1;
        small[small_off + e] = large[large_off + ((b * H + y * p0 + i) * W + x * p1 + j) * C + c];
    }
}

/* Depth to space: large = up(small), the inverse permutation. large is (B, H, W, C). */
__kernel void lip_resampling_up(__global const float *small, const uint small_off, __global float *large,
                                const uint large_off, const uint H, const uint W, const uint C, const uint p0,
                                const uint p1, const uint count) {
    const uint stride = (uint)get_global_size(0);
    const uint SW = W / p1, SC = C * p0 * p1;
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint c = e % C;
        uint t = e / C;
        const uint w = t % W;
        t /= W;
        const uint h = t % H, b = t / H;
        const uint y = h / p0, i = h % p0, x = w / p1, j = w % p1;
        large[large_off + e] = small[small_off + ((b * (H / p0) + y) * SW + x) * SC + c * p0 * p1 + i * p1 + j];
    }
}
