/* lipcl kernels — 2-D float32 transpose, out (n×m) = xᵀ for x (m×n), both row-major.
 * A local-memory tile makes both the reads and the writes run along rows. */

#ifndef TRANSPOSE_TILE
/* Tile edge = work-group size in each dimension: 4..32 with TILE² ≤ the device's maximum work-group
 * size. On PoCL (2-core CPU), 1024×1024: 16 → 0.87 ms, 32 → 0.48 ms, 8 → 1.6 ms, and a direct
 * one-element-per-item kernel 2.0 ms at 16×16 (0.6 ms at its best local size 4×16). 16 is the
 * default because 32 needs 1024-item work-groups, which many GPUs do not offer. */
#define TRANSPOSE_TILE 16
#endif

/* Work-item (gx, gy) reads x[gy, gx] into the tile; after the barrier it writes out[·] from the
 * transposed tile position. The +1 column of padding avoids local-memory bank conflicts on GPUs. */
__kernel __attribute__((reqd_work_group_size(TRANSPOSE_TILE, TRANSPOSE_TILE, 1))) void
lip_transpose_2d(__global float *out, const uint out_off, __global const float *x, const uint x_off, const uint m,
                 const uint n) {
    __local float tile[TRANSPOSE_TILE][TRANSPOSE_TILE + 1];
    const uint lx = (uint)get_local_id(0), ly = (uint)get_local_id(1);
    const uint bx = (uint)get_group_id(0) * TRANSPOSE_TILE, by = (uint)get_group_id(1) * TRANSPOSE_TILE;
    const uint gx = bx + lx, gy = by + ly; /* column and row of x */
    if (gx < n && gy < m) tile[ly][lx] = x[x_off + gy * n + gx];
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint ox = by + lx, oy = bx + ly; /* column and row of out (n×m) */
    if (ox < m && oy < n) out[out_off + oy * m + ox] = tile[lx][ly];
}
