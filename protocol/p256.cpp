#include "detail/p256.h"

namespace lpm::proto::detail {

namespace {

using u64 = uint64_t;
using u128 = unsigned __int128;
using Limbs = std::array<u64, 4>; // least significant limb first

// p, the field's prime, and n, the group's order.
constexpr Limbs kP{0xFFFFFFFFFFFFFFFF, 0x00000000FFFFFFFF, 0x0000000000000000, 0xFFFFFFFF00000001};
constexpr Limbs kN{0xF3B9CAC2FC632551, 0xBCE6FAADA7179E84, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFF00000000};
// The curve's b and its generator G (FIPS 186-4, D.1.2.3).
constexpr Limbs kB{0x3BCE3C3E27D2604B, 0x651D06B0CC53B0F6, 0xB3EBBD55769886BC, 0x5AC635D8AA3A93E7};
constexpr Limbs kGx{0xF4A13945D898C296, 0x77037D812DEB33A0, 0xF8BCE6E563A440F2, 0x6B17D1F2E12C4247};
constexpr Limbs kGy{0xCBB6406837BF51F5, 0x2BCE33576B315ECE, 0x8EE7EB4A7C0F9E16, 0x4FE342E2FE1A7F9B};

constexpr bool is_zero(const Limbs &a) {
  return (a[0] | a[1] | a[2] | a[3]) == 0;
}

// a >= b
constexpr bool at_least(const Limbs &a, const Limbs &b) {
  for (int i = 3; i >= 0; i--)
    if (a[i] != b[i]) return a[i] > b[i];
  return true;
}

// r = a - b mod 2^256; the borrow out.
constexpr u64 sub_limbs(Limbs &r, const Limbs &a, const Limbs &b) {
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 d = static_cast<u128>(a[i]) - b[i] - borrow;
    r[i] = static_cast<u64>(d);
    borrow = static_cast<u64>(d >> 64) & 1;
  }
  return borrow;
}

// r = a + b mod 2^256; the carry out.
constexpr u64 add_limbs(Limbs &r, const Limbs &a, const Limbs &b) {
  u64 carry = 0;
  for (int i = 0; i < 4; i++) {
    u128 s = static_cast<u128>(a[i]) + b[i] + carry;
    r[i] = static_cast<u64>(s);
    carry = static_cast<u64>(s >> 64);
  }
  return carry;
}

// (a + b) mod m and (a - b) mod m, for a and b below m.
constexpr Limbs add_mod(const Limbs &a, const Limbs &b, const Limbs &m) {
  Limbs sum{}, less{};
  u64 carry = add_limbs(sum, a, b);
  u64 borrow = sub_limbs(less, sum, m);
  return (carry != 0 || borrow == 0) ? less : sum;
}

constexpr Limbs sub_mod(const Limbs &a, const Limbs &b, const Limbs &m) {
  Limbs d{};
  if (sub_limbs(d, a, b) != 0) add_limbs(d, d, m);
  return d;
}

struct Modulus {
  Limbs m;
  u64 m_inv; // -m^-1 mod 2^64
  Limbs r2;  // R^2 mod m, R = 2^256
};

// -m0^-1 mod 2^64 for odd m0 (Newton's iteration doubles the correct low bits each step).
constexpr u64 neg_inverse(u64 m0) {
  u64 inv = 1;
  for (int i = 0; i < 6; i++)
    inv *= 2 - m0 * inv;
  return ~inv + 1;
}

// R^2 mod m for m above 2^255: R mod m = 2^256 - m, doubled 256 times.
constexpr Limbs r_squared(const Limbs &m) {
  Limbs x{};
  sub_limbs(x, Limbs{}, m);
  for (int i = 0; i < 256; i++)
    x = add_mod(x, x, m);
  return x;
}

constexpr Modulus kFieldP{kP, neg_inverse(kP[0]), r_squared(kP)};
constexpr Modulus kOrderN{kN, neg_inverse(kN[0]), r_squared(kN)};

// Montgomery product a·b·R^-1 mod m, for a and b below m (CIOS, one limb of b at a time).
constexpr Limbs mont_mul(const Limbs &a, const Limbs &b, const Modulus &M) {
  u64 t[6] = {};
  for (int i = 0; i < 4; i++) {
    u128 c = 0;
    for (int j = 0; j < 4; j++) {
      c += static_cast<u128>(a[j]) * b[i] + t[j];
      t[j] = static_cast<u64>(c);
      c >>= 64;
    }
    c += t[4];
    t[4] = static_cast<u64>(c);
    t[5] = static_cast<u64>(c >> 64);
    u64 q = t[0] * M.m_inv;
    c = static_cast<u128>(q) * M.m[0] + t[0];
    c >>= 64;
    for (int j = 1; j < 4; j++) {
      c += static_cast<u128>(q) * M.m[j] + t[j];
      t[j - 1] = static_cast<u64>(c);
      c >>= 64;
    }
    c += t[4];
    t[3] = static_cast<u64>(c);
    t[4] = t[5] + static_cast<u64>(c >> 64);
  }
  Limbs r{t[0], t[1], t[2], t[3]}, less{};
  u64 borrow = sub_limbs(less, r, M.m);
  return (t[4] != 0 || borrow == 0) ? less : r;
}

// base^exp in Montgomery form (base in Montgomery form).
Limbs mont_pow(const Limbs &base, const Limbs &exp, const Modulus &M) {
  Limbs acc = mont_mul(Limbs{1, 0, 0, 0}, M.r2, M);
  for (int i = 255; i >= 0; i--) {
    acc = mont_mul(acc, acc, M);
    if (((exp[i / 64] >> (i % 64)) & 1) != 0) acc = mont_mul(acc, base, M);
  }
  return acc;
}

Limbs from_bytes(P256Bytes b) {
  Limbs r{};
  for (int i = 0; i < 4; i++) {
    u64 v = 0;
    for (int k = 0; k < 8; k++)
      v = (v << 8) | b[static_cast<size_t>((3 - i) * 8 + k)];
    r[i] = v;
  }
  return r;
}

void to_bytes(const Limbs &a, std::array<uint8_t, 32> &out) {
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 8; k++)
      out[static_cast<size_t>((3 - i) * 8 + k)] = static_cast<uint8_t>(a[i] >> (56 - 8 * k));
}

// Field elements mod p, in Montgomery form.
using Fe = Limbs;

inline Fe fmul(const Fe &a, const Fe &b) {
  return mont_mul(a, b, kFieldP);
}
inline Fe fsqr(const Fe &a) {
  return mont_mul(a, a, kFieldP);
}
inline Fe fadd(const Fe &a, const Fe &b) {
  return add_mod(a, b, kP);
}
inline Fe fsub(const Fe &a, const Fe &b) {
  return sub_mod(a, b, kP);
}
inline Fe to_field(const Limbs &a) { // a below p
  return fmul(a, kFieldP.r2);
}
inline Limbs from_field(const Fe &a) {
  return fmul(a, Limbs{1, 0, 0, 0});
}
Fe finv(const Fe &a) { // a not 0
  Limbs exp{};
  sub_limbs(exp, kP, Limbs{2, 0, 0, 0});
  return mont_pow(a, exp, kFieldP);
}

constexpr Fe kOne = mont_mul(Limbs{1, 0, 0, 0}, kFieldP.r2, kFieldP);

using Affine = P256Key::Affine;

Fe x_of(const Affine &a) {
  return Fe{a.x[0], a.x[1], a.x[2], a.x[3]};
}
Fe y_of(const Affine &a) {
  return Fe{a.y[0], a.y[1], a.y[2], a.y[3]};
}

struct Jacobian {
  Fe x{}, y{}, z{};
  bool infinity = true;
};

// p = 2p (dbl-2001-b, a = -3).
void dbl(Jacobian &p) {
  if (p.infinity) return;
  Fe delta = fsqr(p.z);
  Fe gamma = fsqr(p.y);
  Fe beta = fmul(p.x, gamma);
  Fe alpha = fmul(fsub(p.x, delta), fadd(p.x, delta));
  alpha = fadd(fadd(alpha, alpha), alpha);
  Fe beta4 = fadd(beta, beta);
  beta4 = fadd(beta4, beta4);
  Fe x3 = fsub(fsqr(alpha), fadd(beta4, beta4));
  Fe z3 = fsub(fsub(fsqr(fadd(p.y, p.z)), gamma), delta);
  Fe gamma8 = fsqr(gamma);
  gamma8 = fadd(gamma8, gamma8);
  gamma8 = fadd(gamma8, gamma8);
  gamma8 = fadd(gamma8, gamma8);
  p.y = fsub(fmul(alpha, fsub(beta4, x3)), gamma8);
  p.x = x3;
  p.z = z3;
  // Only a point of order 2 doubles to infinity, and P-256 has none; kept for safety.
  if (is_zero(p.z)) p.infinity = true;
}

// p += q, q affine and not infinity (madd-2007-bl; the equal and opposite points handled).
void add_affine(Jacobian &p, const Affine &q) {
  Fe qx = x_of(q), qy = y_of(q);
  if (p.infinity) {
    p = Jacobian{qx, qy, kOne, false};
    return;
  }
  Fe z1z1 = fsqr(p.z);
  Fe u2 = fmul(qx, z1z1);
  Fe s2 = fmul(fmul(qy, p.z), z1z1);
  Fe h = fsub(u2, p.x);
  Fe r = fsub(s2, p.y);
  if (is_zero(h)) {
    if (is_zero(r))
      dbl(p); // q is p
    else
      p.infinity = true; // q is -p
    return;
  }
  r = fadd(r, r);
  Fe hh = fsqr(h);
  Fe i = fadd(hh, hh);
  i = fadd(i, i);
  Fe j = fmul(h, i);
  Fe v = fmul(p.x, i);
  Fe x3 = fsub(fsub(fsqr(r), j), fadd(v, v));
  Fe y1j = fmul(p.y, j);
  Fe y3 = fsub(fmul(r, fsub(v, x3)), fadd(y1j, y1j));
  Fe z3 = fsub(fsub(fsqr(fadd(p.z, h)), z1z1), hh);
  p = Jacobian{x3, y3, z3, false};
}

// Jacobian points (none at infinity) to affine, with one inversion for all (Montgomery's trick).
template <size_t N> void to_affine(const std::array<Jacobian, N> &in, std::array<Affine, N> &out) {
  std::array<Fe, N> prefix{};
  prefix[0] = in[0].z;
  for (size_t k = 1; k < N; k++)
    prefix[k] = fmul(prefix[k - 1], in[k].z);
  Fe inv = finv(prefix[N - 1]);
  for (size_t k = N; k-- > 0;) {
    Fe zinv = k > 0 ? fmul(inv, prefix[k - 1]) : inv;
    if (k > 0) inv = fmul(inv, in[k].z);
    Fe zinv2 = fsqr(zinv);
    Fe x = fmul(in[k].x, zinv2);
    Fe y = fmul(in[k].y, fmul(zinv2, zinv));
    for (int l = 0; l < 4; l++) {
      out[k].x[l] = x[static_cast<size_t>(l)];
      out[k].y[l] = y[static_cast<size_t>(l)];
    }
  }
}

// The comb (Lim-Lee): a scalar's 256 bits as kTeeth rows of kSpan bits, u = sum of row_k·2^(kSpan·k).
// A point's table holds, for each nonzero mask m of kTeeth bits, the sum of 2^(kSpan·k)·a over
// the bits k of m; u·a is then kSpan - 1 doublings and at most kSpan additions, one per column.
constexpr int kTeeth = 8;
constexpr int kSpan = 256 / kTeeth;
constexpr size_t kCombs = (size_t{1} << kTeeth) - 1;

void build_comb(const Affine &a, std::array<Affine, kCombs> &out) {
  // The teeth 2^(kSpan·k)·a, made affine together.
  std::array<Jacobian, kTeeth> teeth{};
  teeth[0] = Jacobian{x_of(a), y_of(a), kOne, false};
  for (size_t k = 1; k < kTeeth; k++) {
    teeth[k] = teeth[k - 1];
    for (int d = 0; d < kSpan; d++)
      dbl(teeth[k]);
  }
  std::array<Affine, kTeeth> base{};
  to_affine(teeth, base);
  // Entry m - 1: entry (m without its lowest bit) plus that bit's tooth. None is infinity and no
  // two are equal: the sums are distinct numbers below n, times a point of prime order n.
  std::array<Jacobian, kCombs> sums{};
  for (size_t m = 1; m <= kCombs; m++) {
    size_t low = static_cast<size_t>(__builtin_ctzll(m));
    size_t rest = m & (m - 1);
    if (rest == 0) {
      sums[m - 1] = teeth[low];
    } else {
      sums[m - 1] = sums[rest - 1];
      add_affine(sums[m - 1], base[low]);
    }
  }
  to_affine(sums, out);
}

Affine affine_of(const Fe &x, const Fe &y) {
  Affine a{};
  for (size_t l = 0; l < 4; l++) {
    a.x[l] = x[l];
    a.y[l] = y[l];
  }
  return a;
}

const std::array<Affine, kCombs> &g_comb() {
  static const std::array<Affine, kCombs> table = [] {
    std::array<Affine, kCombs> t{};
    build_comb(affine_of(to_field(kGx), to_field(kGy)), t);
    return t;
  }();
  return table;
}

// Column i of the comb: bit i of each row.
unsigned column(const Limbs &s, int i) {
  unsigned m = 0;
  for (int k = 0; k < kTeeth; k++) {
    int bit = kSpan * k + i;
    m |= static_cast<unsigned>((s[static_cast<size_t>(bit / 64)] >> (bit % 64)) & 1) << k;
  }
  return m;
}

// u1·G + u2·Q (u1, u2 below n): one chain of doublings, a column of each scalar added at each
// step.
Jacobian combine_jacobian(const Limbs &u1, const Limbs &u2, const std::array<Affine, kCombs> &q) {
  const auto &g = g_comb();
  Jacobian acc;
  for (int i = kSpan - 1; i >= 0; i--) {
    dbl(acc);
    if (unsigned m = column(u1, i); m != 0) add_affine(acc, g[m - 1]);
    if (unsigned m = column(u2, i); m != 0) add_affine(acc, q[m - 1]);
  }
  return acc;
}

// Whether the affine x of p (not infinity), taken mod n, is r (below n): x = X/Z², so
// r·Z² = X, or (r + n)·Z² = X when r + n is still a field element.
bool x_matches(const Jacobian &p, const Limbs &r) {
  Fe z2 = fsqr(p.z);
  if (fmul(to_field(r), z2) == p.x) return true;
  Limbs rn{};
  if (add_limbs(rn, r, kN) != 0 || at_least(rn, kP)) return false;
  return fmul(to_field(rn), z2) == p.x;
}

} // namespace

bool P256Key::load(P256Bytes x, P256Bytes y, P256Key &out) {
  Limbs xl = from_bytes(x), yl = from_bytes(y);
  if (at_least(xl, kP) || at_least(yl, kP)) return false;
  Fe xm = to_field(xl), ym = to_field(yl);
  // y² = x³ - 3x + b
  Fe rhs = fsub(fmul(fsqr(xm), xm), fadd(fadd(xm, xm), xm));
  rhs = fadd(rhs, to_field(kB));
  if (fsqr(ym) != rhs) return false;
  build_comb(affine_of(xm, ym), out.comb_);
  return true;
}

bool P256Key::verify(P256Bytes hash, P256Bytes r, P256Bytes s) const {
  Limbs rl = from_bytes(r), sl = from_bytes(s);
  if (is_zero(rl) || at_least(rl, kN) || is_zero(sl) || at_least(sl, kN)) return false;
  // e: the hash as a number, mod n (below 2n: one subtraction).
  Limbs e = from_bytes(hash);
  if (at_least(e, kN)) sub_limbs(e, e, kN);
  // w = s^-1 (Fermat: s^(n-2)), in Montgomery form; u1 = e·w and u2 = r·w come out plain.
  Limbs n_minus_2{};
  sub_limbs(n_minus_2, kN, Limbs{2, 0, 0, 0});
  Limbs w = mont_pow(mont_mul(sl, kOrderN.r2, kOrderN), n_minus_2, kOrderN);
  Limbs u1 = mont_mul(e, w, kOrderN);
  Limbs u2 = mont_mul(rl, w, kOrderN);
  Jacobian sum = combine_jacobian(u1, u2, comb_);
  if (sum.infinity) return false;
  return x_matches(sum, rl);
}

bool P256Key::combine(P256Bytes u1, P256Bytes u2, std::array<uint8_t, 32> &x,
                      std::array<uint8_t, 32> &y) const {
  Limbs a = from_bytes(u1), b = from_bytes(u2);
  if (at_least(a, kN) || at_least(b, kN)) return false;
  Jacobian sum = combine_jacobian(a, b, comb_);
  if (sum.infinity) return false;
  std::array<Jacobian, 1> in{sum};
  std::array<Affine, 1> out{};
  to_affine(in, out);
  to_bytes(from_field(x_of(out[0])), x);
  to_bytes(from_field(y_of(out[0])), y);
  return true;
}

bool p256_x_matches(P256Bytes X, P256Bytes Z, P256Bytes r) {
  Limbs xl = from_bytes(X), zl = from_bytes(Z), rl = from_bytes(r);
  if (at_least(xl, kP) || at_least(zl, kP) || is_zero(zl) || at_least(rl, kN)) return false;
  return x_matches(Jacobian{to_field(xl), Fe{}, to_field(zl), false}, rl);
}

} // namespace lpm::proto::detail
