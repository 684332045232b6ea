// Class names: the known datasets in label-index order, and the --classes argument of the CLI.
#include "catch.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"

using labelrep::resolve_class_names;
using Names = std::vector<std::string>;

namespace {

// The InvalidArgument message for `spec`, or a failure if it is accepted or another type is thrown.
std::string rejection(const std::string& spec, const std::string& argument = "--classes") {
  try {
    const auto names = resolve_class_names(spec, argument);
    CATCH_FAIL_CHECK("'" << spec << "' was accepted as " << names.size() << " names");
  } catch (const labelrep::InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    CATCH_FAIL_CHECK("'" << spec << "' threw a non-InvalidArgument: " << e.what());
  }
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool unique(const Names& names) { return std::set<std::string>(names.begin(), names.end()).size() == names.size(); }

}  // namespace

CATCH_TEST_CASE("dataset class names in label-index order", "[core][class_names]") {
  const Names cifar10 = resolve_class_names("cifar10");
  CATCH_CHECK(cifar10 == Names({"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}));
  CATCH_CHECK(labelrep::dataset_class_names("cifar10") == cifar10);

  const Names fashion = resolve_class_names("fashion-mnist");
  CATCH_REQUIRE(fashion.size() == 10);
  CATCH_CHECK(fashion.front() == "T-shirt/top");
  CATCH_CHECK(fashion[5] == "Sandal");
  CATCH_CHECK(fashion.back() == "Ankle boot");

  // CIFAR-100's meta file lists the fine labels alphabetically; the label index is the position.
  const Names cifar100 = resolve_class_names("cifar100");
  CATCH_REQUIRE(cifar100.size() == 100);
  CATCH_CHECK(std::is_sorted(cifar100.begin(), cifar100.end()));
  CATCH_CHECK(unique(cifar100));
  CATCH_CHECK(cifar100.front() == "apple");
  CATCH_CHECK(cifar100[58] == "pickup_truck");
  CATCH_CHECK(cifar100.back() == "worm");

  const Names coarse = resolve_class_names("cifar100-coarse");
  CATCH_REQUIRE(coarse.size() == 20);
  CATCH_CHECK(std::is_sorted(coarse.begin(), coarse.end()));
  CATCH_CHECK(unique(coarse));
  CATCH_CHECK(coarse.front() == "aquatic_mammals");
  CATCH_CHECK(coarse.back() == "vehicles_2");

  CATCH_CHECK_THROWS_AS(labelrep::dataset_class_names("imagenet"), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::dataset_class_names("CIFAR10"), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::dataset_class_names("5"), labelrep::InvalidArgument);
}

CATCH_TEST_CASE("class counts and lists of names", "[core][class_names]") {
  CATCH_CHECK(resolve_class_names("3") == Names({"class0", "class1", "class2"}));
  CATCH_CHECK(resolve_class_names("1") == Names({"class0"}));
  const Names thousand = resolve_class_names("1000");
  CATCH_CHECK(thousand.size() == 1000);
  CATCH_CHECK(thousand.back() == "class999");
  CATCH_CHECK(resolve_class_names("cat,dog") == Names({"cat", "dog"}));
  CATCH_CHECK(resolve_class_names(" cat , dog,bird ") == Names({"cat", "dog", "bird"}));
  CATCH_CHECK(resolve_class_names("sea lion,walrus") == Names({"sea lion", "walrus"}));
  // A dataset's name inside a list is just a class name.
  CATCH_CHECK(resolve_class_names("cifar10,cifar100") == Names({"cifar10", "cifar100"}));
}

CATCH_TEST_CASE("bad --classes values are refused with a message naming the argument", "[core][class_names]") {
  const std::string empty = rejection("");
  CATCH_CHECK(contains(empty, "--classes"));
  CATCH_CHECK(contains(empty, "empty"));
  CATCH_CHECK(contains(rejection("", "--label-classes"), "--label-classes"));

  CATCH_CHECK(contains(rejection("0"), "at least 1"));
  CATCH_CHECK(contains(rejection("000"), "at least 1"));
  CATCH_CHECK(contains(rejection("100000000"), "too many"));

  for (const std::string spec : {"a,,b", ",a,b", "a,b,", " , a", ","}) {
    CATCH_INFO("spec '" << spec << "'");
    CATCH_CHECK(contains(rejection(spec), "empty class name"));
  }
  const std::string duplicate = rejection("cat,dog,cat");
  CATCH_CHECK(contains(duplicate, "'cat' twice"));
  CATCH_CHECK(contains(rejection("cat, cat "), "'cat' twice"));  // equal once trimmed

  // One name is neither a dataset nor a list: most likely a typo of a dataset name.
  const std::string unknown = rejection("cifar-10");
  CATCH_CHECK(contains(unknown, "'cifar-10'"));
  CATCH_CHECK(contains(unknown, "not a known dataset"));
  CATCH_CHECK(contains(unknown, "cifar100-coarse"));
  CATCH_CHECK(contains(rejection("-3"), "not a known dataset"));
  CATCH_CHECK(contains(rejection(" cifar10 "), "not a known dataset"));
  CATCH_CHECK(rejection("imagenet").rfind("labelrep: ", 0) == 0);
}
