// resolver_defs.h - runnable definitions of tflite::MicroMutableOpResolver<N>::Add*() for the fail-safe
// harness (tests/test_failsafe.py). Passed to the compiler with -include, so the definitions precede
// edgekit_app.cpp and every method the generated code calls can be instantiated there. The class itself
// is the declaration stub in tests/firmware_stubs; every Add*() answers edgekit_failsafe::op_status(), so
// a test can make op registration fail. The list mirrors firmware_templates/ops.toml (checked by the test).

#ifndef EDGEKIT_FAILSAFE_RESOLVER_DEFS_H_
#define EDGEKIT_FAILSAFE_RESOLVER_DEFS_H_

#include "tflm/tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace edgekit_failsafe {
TfLiteStatus op_status();
}  // namespace edgekit_failsafe

#define EDGEKIT_FAILSAFE_ADD(method)                                  \
  template <unsigned int tOpCount>                                    \
  TfLiteStatus tflite::MicroMutableOpResolver<tOpCount>::method(     \
      const TFLMRegistration& registration) {                         \
    (void)registration;                                               \
    return edgekit_failsafe::op_status();                             \
  }

EDGEKIT_FAILSAFE_ADD(AddAbs)
EDGEKIT_FAILSAFE_ADD(AddAdd)
EDGEKIT_FAILSAFE_ADD(AddAddN)
EDGEKIT_FAILSAFE_ADD(AddArgMax)
EDGEKIT_FAILSAFE_ADD(AddArgMin)
EDGEKIT_FAILSAFE_ADD(AddAveragePool2D)
EDGEKIT_FAILSAFE_ADD(AddBatchToSpaceNd)
EDGEKIT_FAILSAFE_ADD(AddBroadcastArgs)
EDGEKIT_FAILSAFE_ADD(AddBroadcastTo)
EDGEKIT_FAILSAFE_ADD(AddCast)
EDGEKIT_FAILSAFE_ADD(AddCeil)
EDGEKIT_FAILSAFE_ADD(AddConcatenation)
EDGEKIT_FAILSAFE_ADD(AddConv2D)
EDGEKIT_FAILSAFE_ADD(AddCos)
EDGEKIT_FAILSAFE_ADD(AddCumSum)
EDGEKIT_FAILSAFE_ADD(AddDepthToSpace)
EDGEKIT_FAILSAFE_ADD(AddDepthwiseConv2D)
EDGEKIT_FAILSAFE_ADD(AddDequantize)
EDGEKIT_FAILSAFE_ADD(AddDiv)
EDGEKIT_FAILSAFE_ADD(AddElu)
EDGEKIT_FAILSAFE_ADD(AddEqual)
EDGEKIT_FAILSAFE_ADD(AddExp)
EDGEKIT_FAILSAFE_ADD(AddExpandDims)
EDGEKIT_FAILSAFE_ADD(AddFill)
EDGEKIT_FAILSAFE_ADD(AddFloor)
EDGEKIT_FAILSAFE_ADD(AddFloorDiv)
EDGEKIT_FAILSAFE_ADD(AddFloorMod)
EDGEKIT_FAILSAFE_ADD(AddFullyConnected)
EDGEKIT_FAILSAFE_ADD(AddGather)
EDGEKIT_FAILSAFE_ADD(AddGatherNd)
EDGEKIT_FAILSAFE_ADD(AddGreater)
EDGEKIT_FAILSAFE_ADD(AddGreaterEqual)
EDGEKIT_FAILSAFE_ADD(AddHardSwish)
EDGEKIT_FAILSAFE_ADD(AddL2Normalization)
EDGEKIT_FAILSAFE_ADD(AddL2Pool2D)
EDGEKIT_FAILSAFE_ADD(AddLeakyRelu)
EDGEKIT_FAILSAFE_ADD(AddLess)
EDGEKIT_FAILSAFE_ADD(AddLessEqual)
EDGEKIT_FAILSAFE_ADD(AddLog)
EDGEKIT_FAILSAFE_ADD(AddLogSoftmax)
EDGEKIT_FAILSAFE_ADD(AddLogicalAnd)
EDGEKIT_FAILSAFE_ADD(AddLogicalNot)
EDGEKIT_FAILSAFE_ADD(AddLogicalOr)
EDGEKIT_FAILSAFE_ADD(AddLogistic)
EDGEKIT_FAILSAFE_ADD(AddMaxPool2D)
EDGEKIT_FAILSAFE_ADD(AddMaximum)
EDGEKIT_FAILSAFE_ADD(AddMean)
EDGEKIT_FAILSAFE_ADD(AddMinimum)
EDGEKIT_FAILSAFE_ADD(AddMirrorPad)
EDGEKIT_FAILSAFE_ADD(AddMul)
EDGEKIT_FAILSAFE_ADD(AddNeg)
EDGEKIT_FAILSAFE_ADD(AddNotEqual)
EDGEKIT_FAILSAFE_ADD(AddPack)
EDGEKIT_FAILSAFE_ADD(AddPad)
EDGEKIT_FAILSAFE_ADD(AddPadV2)
EDGEKIT_FAILSAFE_ADD(AddPrelu)
EDGEKIT_FAILSAFE_ADD(AddQuantize)
EDGEKIT_FAILSAFE_ADD(AddReduceMax)
EDGEKIT_FAILSAFE_ADD(AddRelu)
EDGEKIT_FAILSAFE_ADD(AddRelu6)
EDGEKIT_FAILSAFE_ADD(AddReshape)
EDGEKIT_FAILSAFE_ADD(AddResizeBilinear)
EDGEKIT_FAILSAFE_ADD(AddResizeNearestNeighbor)
EDGEKIT_FAILSAFE_ADD(AddRound)
EDGEKIT_FAILSAFE_ADD(AddRsqrt)
EDGEKIT_FAILSAFE_ADD(AddSelectV2)
EDGEKIT_FAILSAFE_ADD(AddShape)
EDGEKIT_FAILSAFE_ADD(AddSin)
EDGEKIT_FAILSAFE_ADD(AddSlice)
EDGEKIT_FAILSAFE_ADD(AddSoftmax)
EDGEKIT_FAILSAFE_ADD(AddSpaceToBatchNd)
EDGEKIT_FAILSAFE_ADD(AddSpaceToDepth)
EDGEKIT_FAILSAFE_ADD(AddSplit)
EDGEKIT_FAILSAFE_ADD(AddSplitV)
EDGEKIT_FAILSAFE_ADD(AddSqrt)
EDGEKIT_FAILSAFE_ADD(AddSquare)
EDGEKIT_FAILSAFE_ADD(AddSquaredDifference)
EDGEKIT_FAILSAFE_ADD(AddSqueeze)
EDGEKIT_FAILSAFE_ADD(AddStridedSlice)
EDGEKIT_FAILSAFE_ADD(AddSub)
EDGEKIT_FAILSAFE_ADD(AddSum)
EDGEKIT_FAILSAFE_ADD(AddSvdf)
EDGEKIT_FAILSAFE_ADD(AddTanh)
EDGEKIT_FAILSAFE_ADD(AddTranspose)
EDGEKIT_FAILSAFE_ADD(AddTransposeConv)
EDGEKIT_FAILSAFE_ADD(AddUnidirectionalSequenceLSTM)
EDGEKIT_FAILSAFE_ADD(AddUnpack)
EDGEKIT_FAILSAFE_ADD(AddZerosLike)

#undef EDGEKIT_FAILSAFE_ADD

#endif  // EDGEKIT_FAILSAFE_RESOLVER_DEFS_H_
