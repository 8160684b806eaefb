// Declaration stub of tflite::MicroMutableOpResolver<N> (TFLM 90b983c2b), for the fail-safe harness only: one
// Add*(registration) per builtin op in firmware_templates/ops.toml, and the registrations edgekit_model.cpp
// names (see tests/firmware_stubs/README.md).
#pragma once

#include "micro_interpreter.h"

namespace tflite {
struct TFLMRegistration {
  int placeholder;
};

// The registrations edgekit_model.cpp can name: each op's generic one and its int8-only variant.
#define EDGEKIT_STUB_REGISTRATION(name) TFLMRegistration name();
EDGEKIT_STUB_REGISTRATION(Register_CONV_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_DEPTHWISE_CONV_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_FULLY_CONNECTED_INT8)
EDGEKIT_STUB_REGISTRATION(Register_MAX_POOL_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_AVERAGE_POOL_2D_INT8)
EDGEKIT_STUB_REGISTRATION(Register_SOFTMAX_INT8)
EDGEKIT_STUB_REGISTRATION(Register_MEAN)
EDGEKIT_STUB_REGISTRATION(Register_RESHAPE)
#undef EDGEKIT_STUB_REGISTRATION

template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  TfLiteStatus AddAbs(const TFLMRegistration& registration);
  TfLiteStatus AddAdd(const TFLMRegistration& registration);
  TfLiteStatus AddAddN(const TFLMRegistration& registration);
  TfLiteStatus AddArgMax(const TFLMRegistration& registration);
  TfLiteStatus AddArgMin(const TFLMRegistration& registration);
  TfLiteStatus AddAveragePool2D(const TFLMRegistration& registration);
  TfLiteStatus AddBatchToSpaceNd(const TFLMRegistration& registration);
  TfLiteStatus AddBroadcastArgs(const TFLMRegistration& registration);
  TfLiteStatus AddBroadcastTo(const TFLMRegistration& registration);
  TfLiteStatus AddCast(const TFLMRegistration& registration);
  TfLiteStatus AddCeil(const TFLMRegistration& registration);
  TfLiteStatus AddConcatenation(const TFLMRegistration& registration);
  TfLiteStatus AddConv2D(const TFLMRegistration& registration);
  TfLiteStatus AddCos(const TFLMRegistration& registration);
  TfLiteStatus AddCumSum(const TFLMRegistration& registration);
  TfLiteStatus AddDepthToSpace(const TFLMRegistration& registration);
  TfLiteStatus AddDepthwiseConv2D(const TFLMRegistration& registration);
  TfLiteStatus AddDequantize(const TFLMRegistration& registration);
  TfLiteStatus AddDiv(const TFLMRegistration& registration);
  TfLiteStatus AddElu(const TFLMRegistration& registration);
  TfLiteStatus AddEqual(const TFLMRegistration& registration);
  TfLiteStatus AddExp(const TFLMRegistration& registration);
  TfLiteStatus AddExpandDims(const TFLMRegistration& registration);
  TfLiteStatus AddFill(const TFLMRegistration& registration);
  TfLiteStatus AddFloor(const TFLMRegistration& registration);
  TfLiteStatus AddFloorDiv(const TFLMRegistration& registration);
  TfLiteStatus AddFloorMod(const TFLMRegistration& registration);
  TfLiteStatus AddFullyConnected(const TFLMRegistration& registration);
  TfLiteStatus AddGather(const TFLMRegistration& registration);
  TfLiteStatus AddGatherNd(const TFLMRegistration& registration);
  TfLiteStatus AddGreater(const TFLMRegistration& registration);
  TfLiteStatus AddGreaterEqual(const TFLMRegistration& registration);
  TfLiteStatus AddHardSwish(const TFLMRegistration& registration);
  TfLiteStatus AddL2Normalization(const TFLMRegistration& registration);
  TfLiteStatus AddL2Pool2D(const TFLMRegistration& registration);
  TfLiteStatus AddLeakyRelu(const TFLMRegistration& registration);
  TfLiteStatus AddLess(const TFLMRegistration& registration);
  TfLiteStatus AddLessEqual(const TFLMRegistration& registration);
  TfLiteStatus AddLog(const TFLMRegistration& registration);
  TfLiteStatus AddLogSoftmax(const TFLMRegistration& registration);
  TfLiteStatus AddLogicalAnd(const TFLMRegistration& registration);
  TfLiteStatus AddLogicalNot(const TFLMRegistration& registration);
  TfLiteStatus AddLogicalOr(const TFLMRegistration& registration);
  TfLiteStatus AddLogistic(const TFLMRegistration& registration);
  TfLiteStatus AddMaxPool2D(const TFLMRegistration& registration);
  TfLiteStatus AddMaximum(const TFLMRegistration& registration);
  TfLiteStatus AddMean(const TFLMRegistration& registration);
  TfLiteStatus AddMinimum(const TFLMRegistration& registration);
  TfLiteStatus AddMirrorPad(const TFLMRegistration& registration);
  TfLiteStatus AddMul(const TFLMRegistration& registration);
  TfLiteStatus AddNeg(const TFLMRegistration& registration);
  TfLiteStatus AddNotEqual(const TFLMRegistration& registration);
  TfLiteStatus AddPack(const TFLMRegistration& registration);
  TfLiteStatus AddPad(const TFLMRegistration& registration);
  TfLiteStatus AddPadV2(const TFLMRegistration& registration);
  TfLiteStatus AddPrelu(const TFLMRegistration& registration);
  TfLiteStatus AddQuantize(const TFLMRegistration& registration);
  TfLiteStatus AddReduceMax(const TFLMRegistration& registration);
  TfLiteStatus AddRelu(const TFLMRegistration& registration);
  TfLiteStatus AddRelu6(const TFLMRegistration& registration);
  TfLiteStatus AddReshape(const TFLMRegistration& registration);
  TfLiteStatus AddResizeBilinear(const TFLMRegistration& registration);
  TfLiteStatus AddResizeNearestNeighbor(const TFLMRegistration& registration);
  TfLiteStatus AddRound(const TFLMRegistration& registration);
  TfLiteStatus AddRsqrt(const TFLMRegistration& registration);
  TfLiteStatus AddSelectV2(const TFLMRegistration& registration);
  TfLiteStatus AddShape(const TFLMRegistration& registration);
  TfLiteStatus AddSin(const TFLMRegistration& registration);
  TfLiteStatus AddSlice(const TFLMRegistration& registration);
  TfLiteStatus AddSoftmax(const TFLMRegistration& registration);
  TfLiteStatus AddSpaceToBatchNd(const TFLMRegistration& registration);
  TfLiteStatus AddSpaceToDepth(const TFLMRegistration& registration);
  TfLiteStatus AddSplit(const TFLMRegistration& registration);
  TfLiteStatus AddSplitV(const TFLMRegistration& registration);
  TfLiteStatus AddSqrt(const TFLMRegistration& registration);
  TfLiteStatus AddSquare(const TFLMRegistration& registration);
  TfLiteStatus AddSquaredDifference(const TFLMRegistration& registration);
  TfLiteStatus AddSqueeze(const TFLMRegistration& registration);
  TfLiteStatus AddStridedSlice(const TFLMRegistration& registration);
  TfLiteStatus AddSub(const TFLMRegistration& registration);
  TfLiteStatus AddSum(const TFLMRegistration& registration);
  TfLiteStatus AddSvdf(const TFLMRegistration& registration);
  TfLiteStatus AddTanh(const TFLMRegistration& registration);
  TfLiteStatus AddTranspose(const TFLMRegistration& registration);
  TfLiteStatus AddTransposeConv(const TFLMRegistration& registration);
  TfLiteStatus AddUnidirectionalSequenceLSTM(const TFLMRegistration& registration);
  TfLiteStatus AddUnpack(const TFLMRegistration& registration);
  TfLiteStatus AddZerosLike(const TFLMRegistration& registration);
};
}  // namespace tflite
