#include "labelrep/labels/label_image.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {
namespace {

// viridis sampled at 9 evenly spaced points (matplotlib's map); linear interpolation in between.
constexpr unsigned char kViridis[9][3] = {{68, 1, 84},    {71, 45, 123},  {59, 82, 139},  {44, 114, 142}, {33, 144, 140},
                                          {39, 173, 129}, {93, 200, 99},  {170, 220, 50}, {253, 231, 37}};

void write_to_string(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), length);
}
void ignore_flush(png_structp) {}
[[noreturn]] void on_png_error(png_structp, png_const_charp message) { throw InvalidArgument(std::string("PNG encoder: ") + message); }
void on_png_warning(png_structp, png_const_charp) {}

std::string safe_file_name(const std::string& name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
  return out.empty() ? std::string("class") : out;
}

// A label as an image [H, W] of values in [0, 1] over the set's range; vectors become one row.
torch::Tensor unit_image(const torch::Tensor& label, double low, double high) {
  torch::Tensor image = label.dim() == 1 ? label.unsqueeze(0) : label.dim() == 2 ? label : label.flatten(1);
  image = image.to(torch::kFloat64);
  return high > low ? ((image - low) / (high - low)).clamp(0, 1) : torch::zeros_like(image);
}

// Nearest-neighbour enlargement so that the shorter side is at least `minimum` pixels.
torch::Tensor enlarge(const torch::Tensor& rgb, std::int64_t minimum) {
  const std::int64_t h = rgb.size(0), w = rgb.size(1);
  const std::int64_t factor = std::max<std::int64_t>(1, (minimum + std::min(h, w) - 1) / std::min(h, w));
  const std::int64_t cap = std::max<std::int64_t>(1, 2048 / std::max(h, w));
  const std::int64_t f = std::min(factor, cap);
  return rgb.repeat_interleave(f, 0).repeat_interleave(f, 1).contiguous();
}

}  // namespace

torch::Tensor viridis(const torch::Tensor& unit_values) try {
  if (!unit_values.defined() || unit_values.is_complex() || unit_values.scalar_type() == torch::kBool)
    throw InvalidArgument("viridis: unit_values must be a defined real tensor");
  // NaN would survive clamp and index the colour table out of bounds: it is drawn as 0.
  const auto v = unit_values.detach().to(torch::kCPU, torch::kFloat64).nan_to_num(0.0, 1.0, 0.0).clamp(0, 1).contiguous();
  torch::Tensor out = torch::empty([&] { auto s = v.sizes().vec(); s.push_back(3); return s; }(), torch::kUInt8);
  const double* in = v.data_ptr<double>();
  std::uint8_t* o = out.data_ptr<std::uint8_t>();
  for (std::int64_t i = 0; i < v.numel(); ++i) {
    const double x = in[i] * 8.0;
    const int k = std::min(7, static_cast<int>(x));
    const double t = x - k;
    for (int ch = 0; ch < 3; ++ch)
      o[i * 3 + ch] = static_cast<std::uint8_t>(std::lround(kViridis[k][ch] * (1 - t) + kViridis[k + 1][ch] * t));
  }
  return out;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("viridis");
}

std::string encode_png(const torch::Tensor& rgb) try {
  if (!rgb.defined() || rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != torch::kUInt8 || rgb.size(0) < 1 ||
      rgb.size(1) < 1)
    throw InvalidArgument(fmt::format("encode_png: rgb must be a non-empty uint8 tensor [H, W, 3], got {} {}",
                                      rgb.defined() ? c10::toString(rgb.scalar_type()) : "undefined", rgb.defined() ? c10::str(rgb.sizes()) : ""));
  const auto image = rgb.to(torch::kCPU).contiguous();
  std::string bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, on_png_error, on_png_warning);
  if (png == nullptr) throw OutOfMemory("encode_png: cannot create the PNG writer");
  png_infop info = png_create_info_struct(png);
  struct Cleanup {
    png_structp* png;
    png_infop* info;
    ~Cleanup() { png_destroy_write_struct(png, info); }
  } cleanup{&png, &info};
  if (info == nullptr) throw OutOfMemory("encode_png: cannot create the PNG info");
  png_set_write_fn(png, &bytes, write_to_string, ignore_flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.size(1)), static_cast<png_uint_32>(image.size(0)), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const auto* base = image.data_ptr<std::uint8_t>();
  for (std::int64_t y = 0; y < image.size(0); ++y)
    png_write_row(png, const_cast<png_bytep>(base + y * image.size(1) * 3));
  png_write_end(png, nullptr);
  return bytes;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("encode_png");
}

std::vector<std::string> write_label_images(const LabelRepresentation& labels, const std::string& directory) try {
  const auto& matrix = labels.matrix();
  const double low = labels.metadata().range_min, high = labels.metadata().range_max;
  const auto& names = labels.metadata().class_names;
  // libpng refuses images wider or taller than 1,000,000 px: said before anything is written.
  constexpr std::int64_t kPngSideLimit = 1000000, gap = 4;
  const torch::Tensor first_tile = enlarge(viridis(unit_image(matrix[0], low, high)), 128);
  const std::int64_t th = first_tile.size(0), tw = first_tile.size(1), count = labels.num_classes();
  if (th + 2 * gap > kPngSideLimit || tw + 2 * gap > kPngSideLimit)
    throw InvalidArgument(fmt::format("write_label_images: a label of shape [{}] draws as {}x{} px, more than PNG's 1,000,000 px a side",
                                      fmt::join(labels.label_shape(), ", "), tw, th));
  // The overview: up to 10 tiles a row (fewer where wide tiles would pass the limit), 4 px white gaps
  // (the paper's Figure 1 layout).
  const std::int64_t columns = std::max<std::int64_t>(1, std::min<std::int64_t>({10, count, (kPngSideLimit - gap) / (tw + gap)}));
  const std::int64_t rows = (count + columns - 1) / columns;
  if (rows * (th + gap) + gap > kPngSideLimit)
    throw InvalidArgument(fmt::format("write_label_images: {} labels of {}x{} px make an overview taller than PNG's 1,000,000 px", count, tw, th));
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) throw IoError(directory, "cannot create directory: " + ec.message());
  std::vector<std::string> written;
  std::vector<torch::Tensor> tiles;
  for (std::int64_t c = 0; c < labels.num_classes(); ++c) {
    const torch::Tensor tile = enlarge(viridis(unit_image(matrix[c], low, high)), 128);
    const std::string name = c < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(c)] : fmt::format("class{}", c);
    const std::string path = (std::filesystem::path(directory) / fmt::format("{:03}_{}.png", c, safe_file_name(name))).string();
    write_file_atomically(path, encode_png(tile));
    written.push_back(path);
    tiles.push_back(tile);
  }
  torch::Tensor sheet = torch::full({rows * (th + gap) + gap, columns * (tw + gap) + gap, 3}, 255, torch::kUInt8);
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t y = gap + (i / columns) * (th + gap), x = gap + (i % columns) * (tw + gap);
    sheet.slice(0, y, y + th).slice(1, x, x + tw).copy_(tiles[static_cast<std::size_t>(i)]);
  }
  const std::string overview = (std::filesystem::path(directory) / "labels.png").string();
  write_file_atomically(overview, encode_png(sheet));
  written.push_back(overview);
  return written;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("write_label_images");
}

}  // namespace labelrep::labels
