// Declaration stub of the TfLiteTensor parts edgekit_app.cpp uses (see tests/firmware_stubs/README.md).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt8 = 9 } TfLiteType;
typedef struct TfLiteIntArray {
  int size;
  int data[4];
} TfLiteIntArray;
typedef struct TfLiteQuantizationParams {
  float scale;
  int32_t zero_point;
} TfLiteQuantizationParams;
typedef union TfLitePtrUnion {
  int32_t* i32;
  float* f;
  int8_t* int8;
  void* data;
} TfLitePtrUnion;
typedef struct TfLiteTensor {
  TfLiteType type;
  TfLitePtrUnion data;
  TfLiteIntArray* dims;
  TfLiteQuantizationParams params;
} TfLiteTensor;
