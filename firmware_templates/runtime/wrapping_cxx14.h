// edgekit: upstream selects the two branches of WrappingAdd/WrappingMul with C++17's constexpr-if; Arduino cores compile
// sketches with -std=gnu++14, so the same two branches are selected by partial specialisation instead.
// Integral types other than bool wrap through the unsigned type (no signed-overflow UB); others add and
// multiply directly. Same arithmetic as upstream, operand for operand.
template <typename T, bool kIsWrappingInteger =
                          std::is_integral<T>::value && !std::is_same<T, bool>::value>
struct WrappingArithmetic {
  static T Add(T a, T b) { return a + b; }
  static T Mul(T a, T b) { return a * b; }
};

template <typename T>
struct WrappingArithmetic<T, true> {
  using U = typename std::make_unsigned<T>::type;
  using P = typename std::common_type<U, unsigned int>::type;
  static T Add(T a, T b) {
    return static_cast<T>(static_cast<U>(static_cast<P>(static_cast<U>(a)) +
                                         static_cast<P>(static_cast<U>(b))));
  }
  static T Mul(T a, T b) {
    return static_cast<T>(static_cast<U>(static_cast<P>(static_cast<U>(a)) *
                                         static_cast<P>(static_cast<U>(b))));
  }
};

template <typename T>
inline T WrappingAdd(T a, T b) {
  return WrappingArithmetic<T>::Add(a, b);
}

template <typename T>
inline T WrappingMul(T a, T b) {
  return WrappingArithmetic<T>::Mul(a, b);
}
